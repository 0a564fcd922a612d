"""The Kubernetes connection options beyond host and token: a kubeconfig given as a path or as a dict (errors name
the file, never what it holds; a dict's credentials never reach the output), the proxy options and impersonation.

Requests go to a local HTTP server standing in for the apiserver or the proxy, so what is checked is what goes on
the wire."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import types
from pathlib import Path
from unittest import mock

import pytest
import urllib3
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.pinotops.k8s.plugins.module_utils.kube import client as k8s_client
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import (
    K8S_AUTH_ARGS,
    K8sClient,
    K8sError,
    make_configuration,
    reveal_kubeconfig,
)
from tests.support.modules import run_module

REPO = Path(__file__).resolve().parents[5]
TOKEN = "s3cr3t-kubeconfig-token-0123456789"
KEY_DATA = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n").decode()
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot a real CA\n-----END CERTIFICATE-----\n").decode()


def kubeconfig(server="https://api.example:6443", context="ops", **user):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "prod", "cluster": {"server": server, "certificate-authority-data": CA_DATA}}],
        "users": [{"name": "operator", "user": user or {"token": TOKEN}}],
        "contexts": [{"name": "ops", "context": {"cluster": "prod", "user": "operator", "namespace": "default"}}],
    }


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    """Neither this machine's proxy nor its kubeconfig variables take part."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.startswith("K8S_AUTH_") or name == "KUBECONFIG":
            monkeypatch.delenv(name)


# -- kubeconfig errors name the file and the option, never what it holds -------------------------------------------


def load_error(params):
    with pytest.raises(K8sError) as failed:
        make_configuration(params)
    return str(failed.value)


def test_a_missing_kubeconfig_names_the_file_and_the_option(tmp_path):
    path = tmp_path / "nowhere" / "kubeconfig"
    assert load_error({"kubeconfig": str(path)}) == (
        f"load kubeconfig {path} failed: no such file (from option kubeconfig or K8S_AUTH_KUBECONFIG)")


def test_a_kubeconfig_that_cannot_be_read_names_the_file(tmp_path):
    assert load_error({"kubeconfig": str(tmp_path)}) == (
        f"load kubeconfig {tmp_path} failed: cannot read it: Is a directory (from option kubeconfig or "
        "K8S_AUTH_KUBECONFIG)")


@pytest.mark.parametrize("text, problem", [
    (f"users:\n- name: a\n  user: {{token: {TOKEN}: x}}\n", "not valid YAML at line 3, column "),
    (f"- {TOKEN}\n", "it does not hold a kubeconfig (a YAML mapping), but list"),
    (yaml.safe_dump(kubeconfig(context="elsewhere")), "Invalid kube-config file. Expected object with name"),
    (yaml.safe_dump(dict(kubeconfig(), contexts=5)), "not a valid kubeconfig: a field has an unexpected type"),
    (yaml.safe_dump(dict(kubeconfig(), users=[{"name": "operator", "user": {"client-key-data": "x!"}}])),
     "not a valid kubeconfig: a field has an unexpected type or encoding (binascii.Error)"),
    ("\xff".encode("latin-1"), "it is not UTF-8 text"),
])
def test_an_invalid_kubeconfig_names_the_file_never_its_content(tmp_path, text, problem):
    path = tmp_path / "kubeconfig"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    message = load_error({"kubeconfig": str(path)})
    assert message.startswith(f"load kubeconfig {path} failed: {problem}")
    assert TOKEN not in message and CA_DATA not in message


def test_several_kubeconfig_files_are_merged_and_each_one_missing_is_named(tmp_path):
    clusters, users = tmp_path / "clusters", tmp_path / "users"
    config = kubeconfig()
    clusters.write_text(yaml.safe_dump({key: config[key] for key in ("clusters", "contexts", "current-context")}))
    users.write_text(yaml.safe_dump({"users": config["users"]}))
    merged = make_configuration({"kubeconfig": f"{clusters}{os.pathsep}{users}"})
    assert merged.host == "https://api.example:6443" and merged.api_key == {"BearerToken": f"Bearer {TOKEN}"}
    assert load_error({"kubeconfig": f"{clusters}{os.pathsep}{tmp_path}/gone"}).startswith(
        f"load kubeconfig {tmp_path}/gone failed: no such file")


def test_the_default_kubeconfig_is_named_with_where_it_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a{os.pathsep}{tmp_path}/b")
    assert load_error({"context": "ops"}) == (
        f"load kubeconfig {tmp_path}/a failed: no such file (from KUBECONFIG, as option kubeconfig is not set)")
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_error({"context": "ops"}) == (f"load kubeconfig {tmp_path}/.kube/config failed: no such file "
                                              "(from the default path, as option kubeconfig is not set)")


def test_kubeconfig_content_given_as_text_is_refused_without_showing_it():
    message = load_error({"kubeconfig": yaml.safe_dump(kubeconfig())})
    assert "holds text that is not a path" in message and TOKEN not in message


def test_the_module_names_the_file_in_its_error_although_the_option_is_no_log(tmp_path):
    path = str(tmp_path / "kubeconfig")
    result = run_module("pinot_cluster_info", {"kubeconfig": path, "name": "p", "namespace": "pinot"})
    assert result["failed"] and result["msg"] == (
        f"load kubeconfig {path} failed: no such file (from option kubeconfig or K8S_AUTH_KUBECONFIG)")
    assert result["invocation"]["module_args"]["kubeconfig"] == path


# -- a kubeconfig given as a dict --------------------------------------------------------------------------------


def test_a_dict_kubeconfig_is_loaded_like_a_file(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig()))
    from_dict = make_configuration({"kubeconfig": kubeconfig()})
    from_file = make_configuration({"kubeconfig": str(path)})
    for configuration in (from_dict, from_file):
        assert configuration.host == "https://api.example:6443"
        assert configuration.api_key == {"BearerToken": f"Bearer {TOKEN}"}
        assert Path(configuration.ssl_ca_cert).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert make_configuration({"kubeconfig": kubeconfig(), "host": "https://other:6443"}).host == "https://other:6443"
    message = load_error({"kubeconfig": kubeconfig(context="elsewhere")})
    assert message.startswith("load kubeconfig (given as a dict) failed: Invalid kube-config file.")
    assert TOKEN not in message


LOAD_IN_A_MODULE_PROCESS = """
import json, os, sys
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import make_configuration
configuration = make_configuration(json.loads(sys.stdin.read()))
written = {name: open(os.path.join(os.environ["TMPDIR"], name)).read() for name in os.listdir(os.environ["TMPDIR"])}
print(json.dumps({"ca": configuration.ssl_ca_cert, "key": configuration.key_file, "written": written}))
"""


def test_a_dict_kubeconfig_leaves_no_file_behind(tmp_path):
    """The module's process writes no copy of the kubeconfig; the client's temporary files of the inline
    certificate and key are gone when the process ends."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    params = {"kubeconfig": kubeconfig(**{"client-certificate-data": CA_DATA, "client-key-data": KEY_DATA,
                                          "token": TOKEN})}
    environment = dict(os.environ, TMPDIR=str(tmp),
                       PYTHONPATH=os.pathsep.join([str(REPO / "collections"), *sys.path]))
    run = subprocess.run([sys.executable, "-c", LOAD_IN_A_MODULE_PROCESS], input=json.dumps(params), text=True,
                         capture_output=True, env=environment, check=True, timeout=60)
    seen = json.loads(run.stdout)
    assert {seen["ca"], seen["key"]} <= {str(tmp / name) for name in seen["written"]}
    assert all(TOKEN not in text for text in seen["written"].values())  # no copy of the kubeconfig
    assert list(tmp.iterdir()) == []


def test_a_dict_kubeconfigs_credentials_never_reach_the_output():
    config = kubeconfig(**{"token": TOKEN, "client-key-data": KEY_DATA,
                           "exec": {"command": "get-token", "apiVersion": "client.authentication.k8s.io/v1",
                                    "env": [{"name": "CLOUD_SECRET", "value": "cloud-s3cr3t"}]}})
    config["contexts"][0]["name"] = config["current-context"] = "missing-cluster"
    config["contexts"][0]["context"]["cluster"] = "missing"
    logged = []
    with mock.patch.object(AnsibleModule, "log", lambda _self, msg, log_args=None: logged.append(log_args)):
        result = run_module("pinot_cluster_info", {"kubeconfig": config, "name": "p", "namespace": "default"})
    assert result["failed"] and result["msg"].startswith("load kubeconfig (given as a dict) failed: ")
    output = json.dumps(result)
    for secret in (TOKEN, KEY_DATA, CA_DATA, "cloud-s3cr3t"):
        assert secret not in output
    # What is no secret stays readable: neither "default" nor the names are starred out of the result.
    shown = result["invocation"]["module_args"]
    assert shown["namespace"] == "default"
    assert shown["kubeconfig"]["clusters"][0]["cluster"]["server"] == "https://api.example:6443"
    assert shown["kubeconfig"]["users"][0]["user"]["exec"]["command"] == "get-token"
    # The module's log line (syslog / journal) has not a single value of it.
    assert logged[0]["kubeconfig"] == "NOT_LOGGING_PARAMETER"


def test_a_value_another_no_log_option_holds_stays_hidden():
    config = kubeconfig()
    spec = dict(K8S_AUTH_ARGS, pinot=dict(type="dict", options=dict(password=dict(type="str", no_log=True))))
    params = {"kubeconfig": config, "api_key": "prod", "pinot": {"password": "operator"}}
    module = types.SimpleNamespace(params=params, argument_spec=spec,
                                   no_log_values={"prod", "operator", "ops", "v1", TOKEN, CA_DATA})
    reveal_kubeconfig(module)
    assert module.no_log_values == {"prod", "operator", TOKEN, CA_DATA}
    path_module = types.SimpleNamespace(params={"kubeconfig": "/etc/kube/config"}, argument_spec=K8S_AUTH_ARGS,
                                        no_log_values={"/etc/kube/config"})
    reveal_kubeconfig(path_module)
    assert path_module.no_log_values == set()


# -- proxy ---------------------------------------------------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with `{}` and records its request line and headers."""

    def do_GET(self):
        self.server.seen.append((self.requestline, self.headers))
        body = b'{"kind": "Namespace", "metadata": {"name": "pinot"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.do_GET()

    def log_message(self, *_args):
        pass


@pytest.fixture
def server():
    """A local HTTP server (the apiserver, or the proxy in front of it)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(httpd):
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def test_the_proxy_options_reach_the_client_configuration():
    configuration = make_configuration({
        "host": "https://api.example:6443", "api_key": TOKEN, "proxy": "http://proxy.example:3128",
        "no_proxy": "localhost,.cluster.local,10.0.0.0/8",
        "proxy_headers": {"proxy_basic_auth": "user:pass", "basic_auth": None, "user_agent": "pinotops-test/1"}})
    assert configuration.proxy == "http://proxy.example:3128"
    assert configuration.no_proxy == "localhost,.cluster.local,10.0.0.0/8"
    assert configuration.proxy_headers == {"proxy-authorization": "Basic dXNlcjpwYXNz",
                                           "user-agent": "pinotops-test/1"}
    pool = K8sClient(configuration).api_client.rest_client.pool_manager
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy.host == "proxy.example" and pool.proxy_headers["proxy-authorization"] == "Basic dXNlcjpwYXNz"


def test_a_kubeconfigs_proxy_url_is_used_unless_the_option_says_otherwise():
    config = kubeconfig()
    config["clusters"][0]["cluster"]["proxy-url"] = "http://kubeconfig-proxy:3128"
    assert make_configuration({"kubeconfig": config}).proxy == "http://kubeconfig-proxy:3128"
    assert make_configuration({"kubeconfig": config, "proxy": "http://option-proxy:3128"}).proxy == \
        "http://option-proxy:3128"


def test_requests_go_through_the_proxy_with_its_headers(server):
    client = K8sClient.from_params({"host": "http://api.example:6443", "api_key": TOKEN, "proxy": url(server),
                                    "proxy_headers": {"proxy_basic_auth": "user:pass"},
                                    "impersonate_groups": ["ops", "dev"]})
    assert client.get("Namespace", "pinot")["metadata"]["name"] == "pinot"
    ((requestline, headers),) = server.seen
    assert requestline == "GET http://api.example:6443/api/v1/namespaces/pinot HTTP/1.1"
    assert headers["Proxy-Authorization"] == "Basic dXNlcjpwYXNz"
    assert headers.get_all("Impersonate-Group") == ["ops", "dev"]  # urllib3 copies them for a plain HTTP proxy


def test_hosts_of_no_proxy_are_reached_directly(server):
    client = K8sClient.from_params({"host": url(server), "api_key": TOKEN, "proxy": "http://127.0.0.1:9",
                                    "no_proxy": "localhost,127.0.0.1"})
    client.get("Namespace", "pinot")
    ((requestline, _headers),) = server.seen
    assert requestline == "GET /api/v1/namespaces/pinot HTTP/1.1"


def test_proxy_and_impersonation_options_read_kubernetes_cores_environment_variables(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("K8S_AUTH_NO_PROXY", ".svc")
    monkeypatch.setenv("K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH", "env-user:env-pass")
    monkeypatch.setenv("K8S_AUTH_PROXY_HEADERS_USER_AGENT", "env-agent")
    monkeypatch.setenv("K8S_AUTH_IMPERSONATE_USER", "alice")
    monkeypatch.setenv("K8S_AUTH_IMPERSONATE_GROUPS", "ops,,dev")
    result = ArgumentSpecValidator(K8S_AUTH_ARGS).validate({})
    assert result.error_messages == []
    params = result.validated_parameters
    assert (params["proxy"], params["no_proxy"], params["impersonate_user"]) == ("http://env-proxy:3128", ".svc",
                                                                                 "alice")
    assert params["proxy_headers"] == {"proxy_basic_auth": "env-user:env-pass", "basic_auth": None,
                                       "user_agent": "env-agent"}
    assert "env-user:env-pass" in result._no_log_values  # hidden like api_key
    assert k8s_client.impersonation_headers(params) == [
        ("Impersonate-User", "alice"), ("Impersonate-Group", "ops"), ("Impersonate-Group", "dev")]


# -- impersonation -------------------------------------------------------------------------------------------------


def test_impersonation_headers_go_with_every_request_one_line_per_group(server):
    client = K8sClient.from_params({"host": url(server), "api_key": TOKEN, "impersonate_user": "alice",
                                    "impersonate_groups": ["ops", "dev"]})
    client.get("Namespace", "pinot")
    client.list("Namespace")
    # A write: urllib3 2 turns the headers of a request with a body into its own multi-valued header dict.
    client.create_event({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "pinot"}})
    assert [requestline.split()[0] for requestline, _headers in server.seen] == ["GET", "GET", "POST"]
    for _requestline, headers in server.seen:
        assert headers.get_all("Impersonate-User") == ["alice"]
        assert headers.get_all("Impersonate-Group") == ["ops", "dev"]
        assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_without_impersonation_no_such_header_is_sent(server):
    K8sClient.from_params({"host": url(server), "api_key": TOKEN}).get("Namespace", "pinot")
    ((_requestline, headers),) = server.seen
    assert "Impersonate-User" not in headers and "Impersonate-Group" not in headers
