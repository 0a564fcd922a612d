# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Kubernetes connection options shared by the modules that talk to the apiserver."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - The kubeconfig to use, either the path of a kubeconfig file or the kubeconfig's content as a dict (for
        example read with the P(ansible.builtin.file#lookup) lookup and the P(ansible.builtin.from_yaml#filter)
        filter).
      - If not set, E(K8S_AUTH_KUBECONFIG) is used, then E(KUBECONFIG) or C(~/.kube/config) when O(host) is not
        given. With neither a kubeconfig nor O(host), the in-cluster service account is used (running inside a pod).
      - A path is read where the module runs. Several files, separated by C(:) as in E(KUBECONFIG), are merged.
        A missing, unreadable or invalid file fails the task with an error that names the file, never what it
        holds.
      - A dict is loaded in memory; no copy of it is written (certificate and key data given inline go to temporary
        files that the Python client removes when the module ends, as for a kubeconfig file). Relative file paths
        in a dict are relative to the module's working directory, so give absolute ones.
      - The values of a dict that can be credentials (everything of a user's entry but its names, and every
        C(*-data), token, password or key) are hidden in the output, also at C(-vvv); so is the whole option in
        the module's log line.
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. If not set, E(K8S_AUTH_CONTEXT) is used, else the current context.
    type: str
  host:
    description:
      - URL of the Kubernetes apiserver, for example V(https://10.0.0.1:6443). If not set, E(K8S_AUTH_HOST) is used.
      - Overrides the server of the kubeconfig when both are given.
    type: str
  api_key:
    description:
      - Bearer token for the apiserver. If not set, E(K8S_AUTH_API_KEY) is used. Never shown in output or errors.
    type: str
  validate_certs:
    description:
      - Verify the apiserver's TLS certificate. If not set, E(K8S_AUTH_VERIFY_SSL) is used, else the kubeconfig's
        setting (verification on).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to the CA bundle that signed the apiserver's certificate. If not set, E(K8S_AUTH_SSL_CA_CERT) is used.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for mutual TLS. If not set, E(K8S_AUTH_CERT_FILE) is used.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the private key of O(client_cert). If not set, E(K8S_AUTH_KEY_FILE) is used.
    type: path
    aliases: [key_file]
  proxy:
    description:
      - URL of an HTTP proxy for the connection to the apiserver, for example V(http://proxy.example:3128). If not
        set, E(K8S_AUTH_PROXY) is used, else the C(proxy-url) of the kubeconfig's cluster, if any.
      - The URL is shown in the task's result; give proxy credentials in O(proxy_headers.proxy_basic_auth).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains, IP addresses or CIDR ranges reached without O(proxy), for example
        V(localhost,.cluster.local,10.0.0.0/8). If not set, E(K8S_AUTH_NO_PROXY) is used.
    type: str
  proxy_headers:
    description:
      - Headers sent to O(proxy) (not to the apiserver).
      - Each suboption that is not set is read from its environment variable, also when O(proxy_headers) is not
        given.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - V(user:password) for the proxy's basic authentication (C(Proxy-Authorization)). If not set,
            E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH) is used. Never shown in output.
        type: str
      basic_auth:
        description:
          - V(user:password) for an C(Authorization) header to the proxy. If not set,
            E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH) is used. Never shown in output.
        type: str
      user_agent:
        description:
          - C(User-Agent) sent to the proxy, for example V(pinotops/1.0). If not set,
            E(K8S_AUTH_PROXY_HEADERS_USER_AGENT) is used.
        type: str
  impersonate_user:
    description:
      - User to act as (Kubernetes impersonation, C(Impersonate-User) header). The apiserver authorises every
        request as this user. The credentials given must hold the C(impersonate) right for it.
      - If not set, E(K8S_AUTH_IMPERSONATE_USER) is used.
    type: str
  impersonate_groups:
    description:
      - Groups to act as (C(Impersonate-Group) headers, one per group), with or without O(impersonate_user).
      - If not set, E(K8S_AUTH_IMPERSONATE_GROUPS) is used, a comma-separated list such as V(group1,group2).
    type: list
    elements: str
notes:
  - The connection options mean what they mean in C(kubernetes.core) and honour the same environment variables,
    so AWX's "OpenShift or Kubernetes API Bearer Token" credential (E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY),
    E(K8S_AUTH_VERIFY_SSL), E(K8S_AUTH_SSL_CA_CERT)) works without further settings.
  - Talks to fixed API paths of the few kinds it manages (no API discovery), so each run costs only the requests
    listed in its result.
requirements:
  - kubernetes >= 30.1.0 (Python client; only its configuration loading and REST layer are used)
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/pinotops.k8s.k8s) in C(module_defaults) to set the Kubernetes connection once for
      every module that talks to the apiserver. The modules that talk to the Pinot controller are in
      C(group/pinotops.k8s.pinot).
    support: full
    membership:
      - pinotops.k8s.k8s
"""
