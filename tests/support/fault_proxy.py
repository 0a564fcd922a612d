"""A small HTTP(S) proxy on 127.0.0.1 in front of a REAL server, injecting faults on chosen requests.

The backend stays the real server: every request that is not faulted (or is faulted *after* being forwarded)
reaches it unchanged. Used by the reliability tests to make a real Pinot controller answer 5xx / 409 or go away
exactly when a test needs it, and to put TLS (self-signed CA) in front of it.
"""

from __future__ import annotations

import http.client
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
               "proxy-authenticate", "host", "content-length"}


class Rule:
    """Fault for requests matching `method` and the path regex, for the first `times` matches (None: always).

    action: "respond" (answer status/body WITHOUT forwarding), "forward_then_respond" (forward to the real
    server, drop its answer, answer status/body), "drop" (close the connection without an answer, nothing
    forwarded), "hook" (call `hook()` — e.g. kill the real controller — then forward as usual).
    """

    def __init__(self, method, path, action, *, status=503, body="", times=1, hook=None, after=0):
        self.method = method
        self.path = re.compile(path)
        self.action = action
        self.status = status
        self.body = body
        self.times = times
        self.hook = hook
        self.after = after  # let this many matching requests through first
        self.seen = 0
        self.fired = 0

    def matches(self, method, path):
        if method != self.method or not self.path.search(path):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


class FaultProxy:
    def __init__(self, backend_url, *, certfile=None, keyfile=None):
        target = urlsplit(backend_url)
        self.backend = (target.hostname, target.port)
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, object]] = []  # (method, path, what happened)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    rule = next((r for r in proxy.rules if r.matches(self.command, self.path)), None)
                action = rule.action if rule else "forward"
                if action == "drop":
                    return self._hang_up("dropped")
                if action == "respond":
                    proxy.log.append((self.command, self.path, f"injected {rule.status}"))
                    return self._send(rule.status, rule.body.encode(), "application/json")
                if action == "hook":
                    rule.hook()
                try:
                    status, data, ctype = proxy._forward(self.command, self.path, self.headers, body)
                except OSError as exc:
                    return self._hang_up(f"backend down: {type(exc).__name__}")
                if action == "forward_then_respond":
                    proxy.log.append((self.command, self.path, f"forwarded ({status}), injected {rule.status}"))
                    return self._send(rule.status, rule.body.encode(), "application/json")
                proxy.log.append((self.command, self.path, status))
                self._send(status, data, ctype)

            def _hang_up(self, note):
                """Close the connection without an answer, as a crashed or unreachable server would."""
                proxy.log.append((self.command, self.path, note))
                self.close_connection = True
                self.connection.shutdown(2)

            def _send(self, status, data, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if certfile else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(*self.backend, timeout=60)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
            conn.request(method, path, body=body, headers=forwarded)
            response = conn.getresponse()
            return response.status, response.read(), response.getheader("Content-Type")
        finally:
            conn.close()

    def requests(self, method=None, path=None):
        """Logged requests (method, path, outcome), filtered by method and a path regex."""
        return [entry for entry in self.log
                if (method is None or entry[0] == method) and (path is None or re.search(path, entry[1]))]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
