"""The Kubernetes client's transport rules (retries, errors, counting) against a scripted REST layer.

The REST layer is the kubernetes package's urllib3 wrapper; replacing it here only scripts HTTP answers. The
client's behaviour against the real apiserver is covered by tests/integration/test_pinot_cluster.py."""

import json

import pytest
import urllib3

from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import (
    K8S_AUTH_ARGS,
    K8sClient,
    K8sError,
    api_path,
    make_configuration,
)

TOKEN = "t0ps3cr3t-token"


class Response:
    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.reason = "reason"
        self.data = json.dumps(body).encode() if body is not None else b""
        self.headers = headers or {}

    def read(self):
        return self.data

    def getheader(self, name, default=None):
        return self.headers.get(name, default)


class ScriptedRest:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def request(self, method, url, headers=None, body=None, _request_timeout=None):
        self.calls.append((method, url, dict(headers or {}), body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(answers):
    configuration = make_configuration({"host": "https://api.example:6443", "api_key": TOKEN,
                                        "validate_certs": False})
    c = K8sClient(configuration, sleep=lambda _s: None)
    c.api_client.rest_client = ScriptedRest(answers)
    return c


def test_auth_args_follow_kubernetes_core_env_names():
    envs = {name: spec["fallback"][1][0] for name, spec in K8S_AUTH_ARGS.items() if "fallback" in spec}
    assert envs == {"kubeconfig": "K8S_AUTH_KUBECONFIG", "context": "K8S_AUTH_CONTEXT", "host": "K8S_AUTH_HOST",
                    "api_key": "K8S_AUTH_API_KEY", "validate_certs": "K8S_AUTH_VERIFY_SSL",
                    "ca_cert": "K8S_AUTH_SSL_CA_CERT", "client_cert": "K8S_AUTH_CERT_FILE",
                    "client_key": "K8S_AUTH_KEY_FILE", "proxy": "K8S_AUTH_PROXY", "no_proxy": "K8S_AUTH_NO_PROXY",
                    "impersonate_user": "K8S_AUTH_IMPERSONATE_USER",
                    "impersonate_groups": "K8S_AUTH_IMPERSONATE_GROUPS"}
    headers = {name: spec["fallback"][1][0] for name, spec in K8S_AUTH_ARGS["proxy_headers"]["options"].items()}
    assert headers == {name: f"K8S_AUTH_PROXY_HEADERS_{name.upper()}" for name in headers}
    assert K8S_AUTH_ARGS["api_key"]["no_log"] is True
    assert K8S_AUTH_ARGS["kubeconfig"]["no_log"] is True  # a dict of kubeconfig content holds credentials


def test_paths():
    assert api_path("StatefulSet", "ns", "a") == "/apis/apps/v1/namespaces/ns/statefulsets/a"
    assert api_path("Node") == "/api/v1/nodes"
    assert api_path("PodDisruptionBudget", "ns") == "/apis/policy/v1/namespaces/ns/poddisruptionbudgets"


def test_apply_is_server_side_apply_with_forced_conflicts_and_recorded():
    c = client([Response(200, {"kind": "ConfigMap"}), Response(200, {"kind": "ConfigMap"})])
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}}
    c.apply(manifest, dry_run=True)
    c.apply(manifest)
    (m1, url1, headers, body), (m2, url2, _h, _b) = c.api_client.rest_client.calls
    assert m1 == m2 == "PATCH"
    assert headers["Content-Type"] == "application/apply-patch+yaml"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert url1.endswith("/api/v1/namespaces/ns/configmaps/a?fieldManager=pinotops.k8s&force=true&dryRun=All")
    assert url2.endswith("?fieldManager=pinotops.k8s&force=true")
    assert json.loads(body) == manifest
    assert c.executed_requests == ["PATCH /api/v1/namespaces/ns/configmaps/a"]
    assert c.counts == {"reads": 0, "writes": 1, "dry_runs": 1, "events": 0}


def test_retries_are_bounded_and_errors_are_one_clear_message():
    c = client([Response(503), Response(429, headers={"Retry-After": "1"}), Response(200, {"items": []})])
    assert c.list("Pod", "ns", {"a": "b"}) == []
    assert len(c.api_client.rest_client.calls) == 3
    assert c.api_client.rest_client.calls[0][1].endswith("/api/v1/namespaces/ns/pods?labelSelector=a%3Db")
    c = client([Response(503)] * 5)
    with pytest.raises(K8sError) as info:
        c.get("StatefulSet", "a", "ns")
    assert len(c.api_client.rest_client.calls) == 5
    c = client([Response(422, {"kind": "Status", "message": "StatefulSet.apps \"a\" is invalid: spec: Forbidden"})])
    with pytest.raises(K8sError) as info:
        c.apply({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "a", "namespace": "ns"}})
    assert str(info.value) == 'apply StatefulSet a failed: HTTP 422: StatefulSet.apps "a" is invalid: spec: Forbidden'
    assert TOKEN not in str(info.value)


def test_connection_errors_are_retried_then_reported_without_credentials():
    c = client([urllib3.exceptions.MaxRetryError(None, "/", "refused")] * 5)
    with pytest.raises(K8sError) as info:
        c.get("Node", "n1")
    assert "cannot reach the apiserver at https://api.example:6443" in str(info.value)
    assert TOKEN not in str(info.value)


def test_missing_objects():
    c = client([Response(404, {"message": "not found"}), Response(404, {"message": "not found"})])
    assert c.get("ConfigMap", "a", "ns") is None
    assert c.delete("ConfigMap", "a", "ns") is False
    assert c.executed_requests == ["DELETE /api/v1/namespaces/ns/configmaps/a"]


class Pool:
    """urllib3's pool under the kubernetes package's own REST layer: what goes on the wire."""

    def __init__(self):
        self.sent = []

    def request(self, method, url, body=None, **_kwargs):
        self.sent.append((method, url, body))
        return urllib3.HTTPResponse(body=b"{}", status=201, preload_content=True)


def make_client_with_real_rest():
    configuration = make_configuration({"host": "https://api.example:6443", "api_key": TOKEN,
                                        "validate_certs": False})
    c = K8sClient(configuration, sleep=lambda _s: None)
    c.api_client.rest_client.pool_manager = Pool()
    return c


def test_an_event_and_an_apply_go_on_the_wire_serialised_once():
    c = make_client_with_real_rest()
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "a.1", "namespace": "ns"}}
    c.create_event(event)
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}})
    (m1, url1, body1), (m2, _url2, body2) = c.api_client.rest_client.pool_manager.sent
    assert (m1, json.loads(body1)) == ("POST", event) and url1.endswith("/api/v1/namespaces/ns/events")
    assert m2 == "PATCH" and json.loads(body2)["metadata"]["name"] == "a"
    assert c.counts == {"reads": 0, "writes": 1, "dry_runs": 0, "events": 1}
    assert c.executed_requests == ["PATCH /api/v1/namespaces/ns/configmaps/a"]  # an Event is not a change


class WatchPool:
    """urllib3's pool answering watches: status and the chunks of the stream (an exception raises mid-stream)."""

    def __init__(self, status, chunks):
        self.status, self.chunks = status, chunks
        self.sent = []
        self.closed = False

    def request(self, method, url, headers=None, preload_content=True, timeout=None, **_kwargs):
        self.sent.append((method, url, dict(headers or {}), preload_content, timeout))
        pool = self

        class Streamed:
            status = pool.status

            def stream(self, _amount):
                for chunk in pool.chunks:
                    if isinstance(chunk, Exception):
                        raise chunk
                    yield chunk

            def close(self):
                pool.closed = True

            def release_conn(self):
                pass

        return Streamed()


def watching(status, chunks):
    c = make_client_with_real_rest()
    c.api_client.rest_client.pool_manager = WatchPool(status, chunks)
    return c, c.api_client.rest_client.pool_manager


def test_a_watch_starts_at_the_listed_version_and_returns_at_the_first_event():
    c, pool = watching(200, [b"", b'{"type":"MODIFIED","object":{}}\n', b"never read"])
    assert c.watch_change("StatefulSet", "ns", {"app": "pinot"}, "42", 30.7) is True
    ((method, url, headers, preload, timeout),) = pool.sent
    assert method == "GET" and preload is False and pool.closed
    assert url.startswith("https://api.example:6443/apis/apps/v1/namespaces/ns/statefulsets?")
    assert "watch=true" in url and "resourceVersion=42" in url and "timeoutSeconds=30" in url
    assert "labelSelector=app%3Dpinot" in url
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert timeout.read_timeout == 40  # past the apiserver's own end of the watch
    assert c.counts["reads"] == 1


def test_a_quiet_watch_ran_and_one_that_cannot_run_says_so():
    assert watching(200, [])[0].watch_change("StatefulSet", "ns", None, "42", 5) is True  # ended by the server
    assert watching(403, [])[0].watch_change("StatefulSet", "ns", None, "42", 5) is False  # no watch right
    broken = urllib3.exceptions.ProtocolError("connection reset")
    assert watching(200, [broken])[0].watch_change("StatefulSet", "ns", None, "42", 5) is False
    c, pool = watching(200, [])
    assert c.watch_change("StatefulSet", "ns", None, None, 5) is False and pool.sent == []


def test_a_delete_with_a_uid_deletes_that_object_only():
    replaced = Response(409, {"kind": "Status", "reason": "Conflict",
                              "message": "Precondition failed: UID in precondition: u1, UID in object meta: u2"})
    c = client([Response(200, {"kind": "Pod"}), replaced, Response(409, {"message": "conflict"})])
    assert c.delete("Pod", "p-0", "ns", uid="u0") is True
    assert c.delete("Pod", "p-1", "ns", uid="u1") is False  # another pod of that name by now: left alone
    (method, url, headers, body), _refused = c.api_client.rest_client.calls[:2]
    assert method == "DELETE" and url.endswith("/api/v1/namespaces/ns/pods/p-0?propagationPolicy=Background")
    assert body == {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": "u0"}}
    assert headers["Content-Type"] == "application/json"
    assert c.executed_requests == ["DELETE /api/v1/namespaces/ns/pods/p-0"] and c.counts["writes"] == 1
    with pytest.raises(K8sError, match="HTTP 409"):  # without a uid a conflict stays an error
        c.delete("ConfigMap", "a", "ns")
