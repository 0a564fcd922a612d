# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Kubernetes connection options shared by the modules that talk to the apiserver."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file. If not set, E(K8S_AUTH_KUBECONFIG) is used, then E(KUBECONFIG) or
        C(~/.kube/config) when O(host) is not given.
      - With neither a kubeconfig nor O(host), the in-cluster service account is used (running inside a pod).
    type: path
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
notes:
  - The connection options honour the same environment variables as C(kubernetes.core), so AWX's
    "OpenShift or Kubernetes API Bearer Token" credential (E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY),
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
