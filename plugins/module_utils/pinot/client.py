# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one client for the Pinot controller REST API."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible.module_utils.basic import env_fallback

try:
    import requests
    from requests.adapters import HTTPAdapter
    from requests.utils import get_environ_proxies, get_netrc_auth

    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test import sanity
    REQUESTS_IMPORT_ERROR = exc

PINOT_CONNECTION_ARGS = dict(
    controller_url=dict(type="str", required=True, fallback=(env_fallback, ["PINOT_CONTROLLER_URL"])),
    username=dict(type="str", fallback=(env_fallback, ["PINOT_USERNAME"])),
    password=dict(type="str", no_log=True, fallback=(env_fallback, ["PINOT_PASSWORD"])),
    token=dict(type="str", no_log=True, fallback=(env_fallback, ["PINOT_TOKEN"])),
    validate_certs=dict(type="bool", default=True),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    timeout=dict(type="float", default=30.0),
    retries=dict(type="int", default=4),
)

IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
RETRYABLE_STATUS = frozenset((502, 503, 504))
VERSION_NUMBERS = re.compile(r"\d+\.\d+(?:\.\d+)?")  # of `1.5.1-<commit>`, as GET /version gives it


class PinotError(Exception):
    """A failed controller call: method, path, HTTP status and Pinot's own message."""

    def __init__(self, method: str, path: str, status: int | None = None, reason: str = "") -> None:
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        where = f"{method} {path}"
        if status is None:
            super().__init__(f"{where} failed: {reason}")
        else:
            super().__init__(f"{where} failed: HTTP {status}: {reason}")


def error_text(response: Any) -> str:
    """Pinot's error message from a response ({"code", "error"} JSON, or the raw text)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:2000] or response.reason
    if isinstance(body, dict):
        return str(body.get("error") or body.get("status") or body)
    return str(body)


def _ssl_reason(exc):
    """The short reason of a TLS failure (e.g. 'certificate verify failed: self-signed certificate')."""
    text = str(exc)
    match = re.search(r"(certificate verify failed[^'\")\](]*|hostname [^'\")\]]*|wrong version number|"
                      r"[A-Z_]+ ?\(_ssl\.c[^)]*\))", text)
    return match.group(1).strip() if match else "TLS handshake failed"


def _was_not_sent(exc):
    """True when the request never reached the server, so any method may be retried."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or "NewConnectionError" in repr(exc)


class PinotClient:
    """Talks to one controller; records every write so modules can report exactly what they did."""

    component = "controller"  # what base_url is, in messages (pinot_query also talks to a broker)

    def __init__(self, controller_url: str, *, username: str | None = None, password: str | None = None,
                 token: str | None = None, validate_certs: bool = True, ca_cert: str | None = None,
                 client_cert: str | None = None, client_key: str | None = None, timeout: float = 30.0,
                 retries: int = 4, backoff: float = 0.5) -> None:
        self.base_url = controller_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.executed_requests = []
        self.read_count = 0
        self._once = {}
        self.session = requests.Session()
        # Enough pooled connections for the bulk path's concurrent reads.
        self.session.mount("http://", HTTPAdapter(pool_maxsize=16))
        self.session.mount("https://", HTTPAdapter(pool_maxsize=16))
        if token:
            self.session.headers["Authorization"] = token
        elif username is not None:
            self.session.auth = (username, password or "")
        self.session.verify = ca_cert if (validate_certs and ca_cert) else bool(validate_certs)
        if client_cert:
            self.session.cert = (client_cert, client_key) if client_key else client_cert
        self._read_environment_once()

    def _read_environment_once(self):
        """What requests reads from the environment on every request (proxy variables, ~/.netrc, the CA bundle
        variables), read once here: each request then costs no stat() and no scan of the environment, which a
        bulk run of 1,500 reads pays 1,500 times. The same settings result."""
        self.session.trust_env = False
        self.session.proxies.update(get_environ_proxies(self.base_url))
        if self.session.auth is None and "Authorization" not in self.session.headers:
            self.session.auth = get_netrc_auth(self.base_url)
        if self.session.verify is True and self.base_url.startswith("https:"):
            self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PinotClient:
        return cls(**{key: params.get(key) for key in PINOT_CONNECTION_ARGS})

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                missing_ok: bool = False, retry_if: Callable[[int, str], bool] | None = None,
                read_only: bool | None = None, headers: dict[str, str] | None = None) -> Any:
        """Send one request and return the parsed body (None for 404 when missing_ok).

        `headers` are added to this request only (e.g. Pinot's `database` header, which names the database a
        request is about).

        Retries connection failures and 502/503/504 for idempotent methods only; a POST is retried
        only when it provably never reached the server, or when `retry_if(status, message)` says the
        server refused it without acting (e.g. the 409 while a deleted table's external view drains).
        """
        method = method.upper()
        url = self.base_url + path
        # verify per request, as the environment was read once (see _read_environment_once).
        kwargs = {"params": params, "timeout": self.timeout, "verify": self.session.verify}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        if headers:
            kwargs["headers"] = dict(kwargs.get("headers") or {}, **headers)
        display = path + _query_string(params)
        if read_only is None:
            read_only = method == "GET"
        if read_only:
            self.read_count += 1
        else:
            self.executed_requests.append(f"{method} {display}")
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.exceptions.SSLError as exc:
                # A certificate problem is not transient: no retries, and say what to do about it.
                raise PinotError(method, display, reason=f"TLS connection to {self.base_url} failed: "
                                 f"{_ssl_reason(exc)} (give ca_cert with the CA that signed the {self.component}'s "
                                 "certificate, or validate_certs=false)") from None
            except requests.exceptions.RequestException as exc:
                if not last and (read_only or method in IDEMPOTENT_METHODS or _was_not_sent(exc)):
                    self._sleep(attempt)
                    continue
                raise PinotError(method, display, reason=f"cannot reach the {self.component} at {self.base_url}: "
                                 f"{type(exc).__name__}") from None
            if response.status_code == 404 and missing_ok:
                return None
            if response.ok:
                return _parse(response)
            message = error_text(response)
            retryable = (response.status_code in RETRYABLE_STATUS and (read_only or method in IDEMPOTENT_METHODS)) or (
                retry_if is not None and retry_if(response.status_code, message))
            if retryable and not last:
                self._sleep(attempt)
                continue
            raise PinotError(method, display, response.status_code, message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _sleep(self, attempt):
        time.sleep(min(self.backoff * (2 ** attempt), 8.0))

    def get(self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False,
            headers: dict[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params, missing_ok=missing_ok, headers=headers)

    def get_once(self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        """A GET whose answer does not change during one module run (does this tenant exist?): sent once."""
        key = (path, tuple(sorted((params or {}).items())), missing_ok)
        if key not in self._once:
            self._once[key] = self.get(path, params=params, missing_ok=missing_ok)
        return self._once[key]

    def pinot_version(self) -> str | None:
        """The controller's Pinot version (`1.5.1`), from `GET /version` read once a run; None when it does not say."""
        found = self.get_once("/version", missing_ok=True)
        if not isinstance(found, dict):
            return None
        for value in (found.get("pinot-controller"), *found.values()):
            match = VERSION_NUMBERS.match(str(value or ""))
            if match:
                return match.group(0)
        return None

    def get_many(self, paths: list[str], missing_ok: bool = True, workers: int = 8) -> list[Any]:
        """GET several paths concurrently; results in the order of `paths`."""
        if len(paths) <= 1:
            return [self.get(path, missing_ok=missing_ok) for path in paths]
        with ThreadPoolExecutor(max_workers=min(workers, len(paths))) as pool:
            return list(pool.map(lambda path: self.get(path, missing_ok=missing_ok), paths))

    def validate(self, path: str, body: Any, params: dict[str, Any] | None = None) -> Any:
        """A POST to a read-only validate endpoint: counted as a read, safe to retry."""
        return self.request("POST", path, params=params, body=body, read_only=True)

    def post(self, path: str, body: Any = None, params: dict[str, Any] | None = None,
             retry_if: Callable[[int, str], bool] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, params=params, body=body, retry_if=retry_if, headers=headers)

    def put(self, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return self.request("PUT", path, params=params, body=body)

    def delete(self, path: str, params: dict[str, Any] | None = None,
               retry_if: Callable[[int, str], bool] | None = None) -> Any:
        return self.request("DELETE", path, params=params, retry_if=retry_if)


def older_than(version: str | None, since: tuple[int, ...]) -> bool:
    """Whether a known Pinot version (`1.4.0`) is older than `since` (`(1, 5)`); an unknown one is not."""
    return version is not None and tuple(int(part) for part in version.split(".")) < since


def _query_string(params):
    """The query as requests sends it: parameters whose value is None are left out."""
    sent = [f"{key}={value}" for key, value in (params or {}).items() if value is not None]
    return "?" + "&".join(sent) if sent else ""


def _parse(response):
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
