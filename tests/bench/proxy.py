"""A counting reverse proxy on 127.0.0.1: plain HTTP in, HTTP or HTTPS (verified against a CA) out.

Clients of the benchmark talk to the proxy, so every request the modules send is seen and classified:
reads (GET/HEAD, and POSTs to Pinot's read-only validate endpoints, counted apart as `validates`), writes
(everything else), Kubernetes server-side dry runs (`dryRun=All`, counted apart: they write nothing) and Kubernetes
Events (POSTs to `.../events`, counted apart: they record writes, they are not the cluster's state).
Bodies are buffered, except a watch's (a GET with `watch=true`, counted as a read), relayed as it streams.
Each request's upstream time (sent to answered, the server's own time plus the loopback) is summed per kind of
request (`profile()`: method and resource, e.g. `POST /tables/validate`), to say where a run's time goes.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host"}


def classify(method: str, path: str) -> str:
    if "dryRun=All" in path:
        return "dry_runs"
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "POST" and path.split("?", maxsplit=1)[0].endswith("/events"):
        return "events"
    if method == "POST" and (path.split("?", maxsplit=1)[0].endswith("/validate") or "dryRun=true" in path):
        return "validates"
    return "writes"


def kind(method: str, path: str) -> str:
    """What a request asks for, without names: `GET /tables`, `POST /schemas/validate`, `PUT /instances/updateTags`,
    `GET statefulsets` (Kubernetes: the resource), `POST events`."""
    parts = [part for part in path.split("?", maxsplit=1)[0].split("/") if part]
    if parts and parts[0] in ("api", "apis"):
        resource = parts[-1]
        if "namespaces" in parts:
            at = parts.index("namespaces")
            resource = parts[at + 2] if len(parts) > at + 2 else "namespaces"
        return f"{method} {resource}" + (" (dry run)" if "dryRun=All" in path else "")
    if not parts:
        return f"{method} /"
    tail = parts[-1] if len(parts) > 1 and parts[-1] in ("validate", "updateTags", "tables") else ""
    return f"{method} /{parts[0]}" + (f"/{tail}" if tail else "")


class CountingProxy:
    def __init__(self, upstream: str, ca_file: str | None = None) -> None:
        parts = urlsplit(upstream)
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.context = ssl.create_default_context(cafile=ca_file) if self.scheme == "https" else None
        self.counts: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes: without TCP_NODELAY, Nagle holds the body until the
                # client's delayed ACK of the headers (up to 40 ms per response on this kernel).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.counts[classify(self.command, self.path)] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn = proxy._connection()
                if "watch=true" in self.path:
                    self._relay_watch(conn, body, headers)
                    return
                started = time.monotonic()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    proxy.local.conn = None
                    conn = proxy._connection()
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                spent = time.monotonic() - started
                with proxy.lock:
                    what = kind(self.command, self.path)
                    proxy.calls[what] += 1
                    proxy.seconds[what] += spent
                self.send_response(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _relay_watch(self, conn: http.client.HTTPConnection, body: bytes | None,
                             headers: dict[str, str]) -> None:
                proxy.local.conn = None  # a watch's connection is never reused
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    self.send_response(resp.status, resp.reason)
                    for key, value in resp.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    while chunk := resp.read1(65536):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (OSError, http.client.HTTPException):
                    self.close_connection = True  # the client left (it has its event) or upstream failed
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(self.netloc, context=self.context, timeout=120)
            else:
                conn = http.client.HTTPConnection(self.netloc, timeout=120)
            self.local.conn = conn
        return conn

    def start(self) -> CountingProxy:
        self.thread.start()
        return self

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.calls.clear()
            self.seconds.clear()

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {key: self.counts.get(key, 0) for key in ("reads", "writes", "validates", "dry_runs", "events")}

    def profile(self) -> dict[str, list[float]]:
        """Per kind of request: [requests, summed upstream seconds] (watches left out)."""
        with self.lock:
            return {what: [self.calls[what], round(self.seconds[what], 3)] for what in sorted(self.calls)}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
