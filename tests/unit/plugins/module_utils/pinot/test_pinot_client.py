"""The Pinot client against a small scripted HTTP server on loopback (the real one is in tests/integration)."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError, older_than


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of the server's script; records what it got."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization"),
                                 self.rfile.read(length).decode()))
        self.server.headers_seen.append(dict(self.headers))
        status, body = self.server.script.pop(0) if self.server.script else (200, {})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    httpd.script, httpd.seen, httpd.headers_seen = [], [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client_for(server, **kwargs):
    return PinotClient(f"http://127.0.0.1:{server.server_port}", backoff=0.01, **kwargs)


def test_get_retries_503_then_succeeds(server):
    server.script = [(503, {"code": 503, "error": "starting"}), (503, {}), (200, {"ok": 1})]
    assert client_for(server).get("/health") == {"ok": 1}
    assert len(server.seen) == 3


def test_post_is_not_retried_on_503(server):
    server.script = [(503, {"code": 503, "error": "busy"}), (200, {})]
    client = client_for(server)
    with pytest.raises(PinotError) as raised:
        client.post("/tables", body={"tableName": "t"})
    assert len(server.seen) == 1
    assert raised.value.status == 503
    assert str(raised.value) == "POST /tables failed: HTTP 503: busy"
    assert client.executed_requests == ["POST /tables"]


def test_post_retried_only_when_the_server_refused_without_acting(server):
    pending = {"code": 409, "error": "External view for t_OFFLINE still exists"}
    server.script = [(409, pending), (200, {"status": "ok"})]
    client_for(server).post("/tables", body={}, retry_if=lambda status, message: "still exists" in message)
    assert [request[0] for request in server.seen] == ["POST", "POST"]


def test_missing_ok_returns_none_on_404(server):
    server.script = [(404, {"code": 404, "error": "Schema not found"})]
    assert client_for(server).get("/schemas/x", missing_ok=True) is None


def test_error_message_names_method_path_status_and_pinot_reason(server):
    server.script = [(400, {"code": 400, "error": "Invalid schema"})]
    with pytest.raises(PinotError, match=r"^PUT /schemas/s\?force=true failed: HTTP 400: Invalid schema$"):
        client_for(server).put("/schemas/s", body={}, params={"force": "true"})


def test_basic_auth_is_sent_and_token_takes_precedence(server):
    client_for(server, username="admin", password="s3cret").get("/a")
    client_for(server, username="admin", password="s3cret", token="Bearer abc").get("/b")
    assert server.seen[0][2].startswith("Basic ")
    assert server.seen[1][2] == "Bearer abc"


def test_unreachable_controller_fails_clearly_without_secrets():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PinotClient(f"http://127.0.0.1:{port}", username="admin", password="pa55word", retries=2, backoff=0.01)
    with pytest.raises(PinotError) as raised:
        client.get("/tables")
    message = str(raised.value)
    assert message.startswith("GET /tables failed: cannot reach the controller at http://127.0.0.1:")
    assert "pa55word" not in message


def test_headers_go_with_one_request_only(server):
    """Pinot's `database` header names the database of one request (the quota APIs refuse a mismatch)."""
    client = client_for(server)
    client.get("/databases/sales/quotas", headers={"database": "sales"})
    client.post("/databases/sales/quotas", body={"x": 1}, headers={"database": "sales"})
    client.get("/tables")
    sent = [(headers.get("database"), headers.get("Content-Type")) for headers in server.headers_seen]
    assert sent == [("sales", None), ("sales", "application/json"), (None, None)]
    assert client.executed_requests == ["POST /databases/sales/quotas"]


def test_reads_and_writes_are_counted_separately(server):
    client = client_for(server)
    client.get("/schemas")
    client.validate("/schemas/validate", {"schemaName": "x"})
    client.delete("/schemas/x")
    assert client.read_count == 2
    assert client.executed_requests == ["DELETE /schemas/x"]


def test_executed_requests_show_the_query_as_sent(server):
    client = client_for(server)
    client.delete("/schemas/x", params={"comment": None})
    client.delete("/schemas/y", params={"type": "offline", "retention": None})
    assert client.executed_requests == ["DELETE /schemas/x", "DELETE /schemas/y?type=offline"]


ENVIRONMENT = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
               "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the machine's
    return monkeypatch


def test_environment_settings_are_those_requests_would_use(clean_environment, tmp_path):
    env = clean_environment
    env.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    env.setenv("NO_PROXY", "pinot.local")
    env.setenv("REQUESTS_CA_BUNDLE", "/etc/bundle.pem")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine controller.example login ops password s3cret\n")
    env.setenv("NETRC", str(netrc))
    proxied = PinotClient("https://controller.example:9000")
    assert proxied.session.proxies["https"] == "http://proxy.invalid:3128"
    assert proxied.session.verify == "/etc/bundle.pem"  # validate_certs, no ca_cert: the variable, as in requests
    assert proxied.session.auth == ("ops", "s3cret")
    assert PinotClient("https://pinot.local:9000").session.proxies == {}  # NO_PROXY
    assert PinotClient("https://controller.example:9000", ca_cert="/ca.pem").session.verify == "/ca.pem"
    assert PinotClient("https://controller.example:9000", validate_certs=False).session.verify is False
    assert PinotClient("https://controller.example:9000", username="u", password="p").session.auth == ("u", "p")
    assert PinotClient("https://controller.example:9000", token="Bearer t").session.auth is None


def test_environment_is_read_once_not_per_request(clean_environment, server):
    client = client_for(server)
    # Set after the client was made: a per-request read would send the GET to this proxy and fail.
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    clean_environment.setenv("NETRC", "/nonexistent")
    assert client.get("/health") == {}
    assert server.seen == [("GET", "/health", None, "")]


@pytest.mark.parametrize("answer, version", [
    ({"pinot-controller": "1.5.1-020ff0d1a2"}, "1.5.1"),
    ({"pinot-segment-spi": "1.4.0", "pinot-controller": "UNKNOWN"}, "1.4.0"),
    ({"pinot-controller": "UNKNOWN"}, None),
    ([], None),
])
def test_the_pinot_version_is_read_once_and_unknown_is_none(server, answer, version):
    server.script = [(200, answer)]
    client = client_for(server)
    assert client.pinot_version() == version
    assert client.pinot_version() == version
    assert len(server.seen) == 1


def test_only_a_known_older_version_is_older():
    assert older_than("1.4.0", (1, 5)) and not older_than("1.5.1", (1, 5)) and not older_than("1.10", (1, 5))
    assert not older_than(None, (1, 5))
