# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Kubernetes client of the collection.

Raw JSON requests to fixed API paths for the few kinds pinotops touches (no discovery, no typed models: the
kubernetes package only provides configuration loading and its urllib3 REST layer). Writes are server-side
apply under the field manager `pinotops.k8s`; every request is counted and every executed write recorded.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback

try:
    from kubernetes import client as k8s_api
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test import sanity
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc
    ApiException = Exception

try:
    import urllib3

    CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, OSError)
except ImportError:  # pragma: no cover
    CONNECTION_ERRORS = (OSError,)

FIELD_MANAGER = "pinotops.k8s"

K8S_AUTH_ARGS = dict(
    kubeconfig=dict(type="path", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False,
                    fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
)

# kind -> (API prefix, plural, namespaced)
KINDS = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "Service": ("/api/v1", "services", True),
    "Pod": ("/api/v1", "pods", True),
    "Event": ("/api/v1", "events", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "ControllerRevision": ("/apis/apps/v1", "controllerrevisions", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
}
RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))


class K8sError(Exception):
    """A failed API call: verb, kind/name, HTTP status and the apiserver's own message (never credentials)."""

    def __init__(self, verb, kind, name, status=None, message=""):
        self.verb = verb
        self.kind = kind
        self.name = name
        self.status = status
        self.message = message
        target = f"{kind} {name}" if name else kind
        code = f"HTTP {status}: " if status else ""
        super().__init__(f"{verb} {target} failed: {code}{message}")


def _selector_query(selector):
    if not selector:
        return {}
    return {"labelSelector": selector if isinstance(selector, str) else ",".join(
        f"{key}={value}" for key, value in sorted(selector.items()))}


def api_path(kind, namespace=None, name=None, subresource=None):
    prefix, plural, namespaced = KINDS[kind]
    path = prefix
    if namespaced and namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{plural}"
    if name:
        path += f"/{quote(name, safe='')}"
    if subresource:
        path += f"/{subresource}"
    return path


def _message(status, data, reason):
    """The apiserver's message from a Status object, else the raw text."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
    try:
        body = json.loads(text)
    except ValueError:
        return (text.strip()[:2000] or reason or "").strip()
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return text.strip()[:2000] or str(reason or status)


def make_configuration(params):
    """A kubernetes Configuration from the module's auth options (kubernetes.core's precedence):
    host/api_key/certificates given directly; else kubeconfig (option, KUBECONFIG, ~/.kube/config) with
    optional context and explicit overrides; else the in-cluster service account."""
    host = params.get("host")
    kubeconfig = params.get("kubeconfig")
    context = params.get("context")
    configuration = k8s_api.Configuration()
    default_kubeconfig = os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
    try:
        if kubeconfig or context or (not host and os.path.exists(default_kubeconfig)):
            k8s_config.load_kube_config(config_file=kubeconfig or default_kubeconfig, context=context,
                                        client_configuration=configuration, persist_config=False)
        elif not host:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException as exc:
                raise K8sError("connect to", "Kubernetes", None, message=(
                    "no connection settings: give kubeconfig, or host (and api_key), or set K8S_AUTH_KUBECONFIG / "
                    f"K8S_AUTH_HOST, or run inside a pod ({exc})")) from None
    except (k8s_config.ConfigException, OSError) as exc:
        raise K8sError("load", "kubeconfig", None, message=str(exc).splitlines()[0][:500]) from None
    if host:
        configuration.host = host.rstrip("/")
    if params.get("api_key"):
        configuration.api_key = {"authorization": "Bearer " + params["api_key"]}
        configuration.api_key_prefix = {}
    if params.get("validate_certs") is not None:
        configuration.verify_ssl = params["validate_certs"]
    if params.get("ca_cert"):
        configuration.ssl_ca_cert = params["ca_cert"]
    if params.get("client_cert"):
        configuration.cert_file = params["client_cert"]
    if params.get("client_key"):
        configuration.key_file = params["client_key"]
    return configuration


class K8sClient:
    """GET / LIST / server-side apply / DELETE on fixed paths, and Events; counts reads, writes, dry runs, Events."""

    def __init__(self, configuration, retries=4, backoff=0.5, timeout=(10, 60), sleep=time.sleep):
        self.configuration = configuration
        self.api_client = k8s_api.ApiClient(configuration)
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.reads = 0
        self.writes = 0
        self.dry_runs = 0
        self.events = 0
        self.executed_requests = []
        self._lock = threading.Lock()  # dry runs may be sent from several threads

    def _count(self, counter, request=None):
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
            if request:
                self.executed_requests.append(request)

    @classmethod
    def from_params(cls, params):
        return cls(make_configuration(params))

    @property
    def counts(self):
        return {"reads": self.reads, "writes": self.writes, "dry_runs": self.dry_runs, "events": self.events}

    # -- transport ---------------------------------------------------------------------------------------

    def _headers(self, content_type=None):
        headers = {"Accept": "application/json", "User-Agent": "pinotops.k8s"}
        for setting in self.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def request(self, verb, kind, name, method, path, *, query=None, body=None, content_type=None, idempotent=True):
        """One API call with bounded retries; returns (status, parsed JSON or None). Raises K8sError."""
        url = self.configuration.host + path + ("?" + urlencode(query) if query else "")
        # The REST layer serialises JSON bodies itself; other bodies (apply's YAML) go as the text given.
        payload = body if body is None or "json" in (content_type or "") else json.dumps(body)
        attempt = 0
        while True:
            status, data, reason, retry_after = None, b"", "", None
            try:
                response = self.api_client.rest_client.request(
                    method, url, headers=self._headers(content_type), body=payload, _request_timeout=self.timeout)
                data = response.read() if hasattr(response, "read") else response.data
                status, reason = response.status, response.reason
                retry_after = response.getheader("Retry-After") if hasattr(response, "getheader") else None
            except ApiException as exc:  # older clients raise on non-2xx with _preload_content
                status, data, reason = exc.status, exc.body or b"", exc.reason
                retry_after = (exc.headers or {}).get("Retry-After") if getattr(exc, "headers", None) else None
                if not status:
                    raise K8sError(verb, kind, name, message=str(reason).splitlines()[0][:500]) from None
            except CONNECTION_ERRORS as exc:
                if attempt < self.retries and idempotent:
                    attempt += 1
                    self.sleep(self._delay(attempt, None))
                    continue
                raise K8sError(verb, kind, name, message=f"cannot reach the apiserver at "
                               f"{self.configuration.host}: {type(exc).__name__}") from None
            if status in RETRYABLE_STATUS and idempotent and attempt < self.retries:
                attempt += 1
                self.sleep(self._delay(attempt, retry_after))
                continue
            if 200 <= status < 300:
                if not data:
                    return status, None
                try:
                    return status, json.loads(data)
                except ValueError:
                    raise K8sError(verb, kind, name, status, "the apiserver sent a response that is not JSON") \
                        from None
            if status == 404:
                return status, None
            raise K8sError(verb, kind, name, status, _message(status, data, reason))

    def _delay(self, attempt, retry_after):
        if retry_after:
            try:
                return min(float(retry_after), 10.0)
            except ValueError:
                pass
        return min(self.backoff * (2 ** (attempt - 1)), 8.0) * (0.75 + random.random() / 2)

    # -- verbs -------------------------------------------------------------------------------------------

    def get(self, kind, name, namespace=None):
        """The object, or None when it does not exist."""
        self._count("reads")
        status, body = self.request("get", kind, name, "GET", api_path(kind, namespace, name))
        return None if status == 404 else body

    def list(self, kind, namespace=None, selector=None):
        """Objects of a kind (in a namespace), optionally filtered by a label selector (dict or string)."""
        return self.list_versioned(kind, namespace, selector)[0]

    def list_versioned(self, kind, namespace=None, selector=None):
        """(objects, the list's resourceVersion): a watch from that version sees every change after the list."""
        self._count("reads")
        query = _selector_query(selector)
        status, body = self.request("list", kind, None, "GET", api_path(kind, namespace), query=query)
        if status == 404 or not body:
            return [], None
        items = body.get("items") or []
        api_version = body.get("apiVersion", "v1")
        for item in items:  # list items carry no kind/apiVersion
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items, (body.get("metadata") or {}).get("resourceVersion")

    def watch_change(self, kind, namespace, selector, resource_version, timeout):
        """Block until an object of a list changes after its `resource_version`, or for `timeout` seconds.
        True when the watch ran (something changed, or nothing did in time); False when it could not (no
        version, refused, e.g. without the `watch` right, or the connection failed): the caller then polls."""
        if not resource_version:
            return False
        self._count("reads")
        seconds = max(1, int(timeout))
        query = dict(_selector_query(selector), watch="true", resourceVersion=resource_version,
                     timeoutSeconds=seconds, allowWatchBookmarks="false")
        url = self.configuration.host + api_path(kind, namespace) + "?" + urlencode(query)
        # The pool under the kubernetes REST layer, unbuffered: that layer reads whole bodies, a watch never ends.
        try:
            response = self.api_client.rest_client.pool_manager.request(
                "GET", url, headers=self._headers(), preload_content=False,
                timeout=urllib3.Timeout(connect=self.timeout[0], read=seconds + 10))
        except CONNECTION_ERRORS:
            return False
        try:
            if response.status != 200:
                return False
            for chunk in response.stream(4096):
                if chunk:  # the first event (a change, or an ERROR such as 410 Gone): list again
                    return True
            return True
        except CONNECTION_ERRORS:
            return False
        finally:
            response.close()  # unread: the connection cannot be reused
            response.release_conn()

    def apply(self, manifest, dry_run=False):
        """Server-side apply; conflicts are forced so the declared fields win (drift is corrected), fields
        owned only by other managers stay theirs. Returns the object as stored (or as it would be)."""
        kind = manifest["kind"]
        meta = manifest["metadata"]
        path = api_path(kind, meta.get("namespace"), meta["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
            self._count("dry_runs")
        else:
            self._count("writes", f"PATCH {path}")
        try:
            status, body = self.request("dry-run apply" if dry_run else "apply", kind, meta["name"], "PATCH", path,
                                        query=query, body=manifest, content_type="application/apply-patch+yaml")
        except K8sError as exc:
            if exc.status == 409 and not dry_run:  # resourceVersion precondition failed: nothing was written
                with self._lock:
                    self.writes -= 1
                    self.executed_requests.remove(f"PATCH {path}")
            raise
        if status == 404:
            raise K8sError("apply", kind, meta["name"], 404,
                           f"namespace {meta.get('namespace')!r} not found" if meta.get("namespace") else "not found")
        return body

    def create_event(self, event):
        """POST an Event. Counted apart from `writes` and not in executed_requests: Events report the writes,
        they are not the cluster's state. Never retried (a retried POST could record it twice)."""
        self._count("events")
        namespace = event["metadata"]["namespace"]
        self.request("create", "Event", event["metadata"]["name"], "POST", api_path("Event", namespace),
                     body=event, content_type="application/json", idempotent=False)

    def delete(self, kind, name, namespace=None, dry_run=False, propagation="Background", *, uid=None):
        """Delete; returns False when the object was already gone, or, with `uid`, when the object of that name is
        another one by now (the apiserver's precondition refused it: a pod its StatefulSet already recreated)."""
        path = api_path(kind, namespace, name)
        query = {"propagationPolicy": propagation}
        if dry_run:
            query["dryRun"] = "All"
            self._count("dry_runs")
        else:
            self._count("writes", f"DELETE {path}")
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}} if uid else None
        try:
            status, _body = self.request("dry-run delete" if dry_run else "delete", kind, name, "DELETE", path,
                                         query=query, body=options, content_type="application/json" if uid else None)
        except K8sError as exc:
            if exc.status != 409 or not uid:
                raise
            if not dry_run:  # nothing was deleted
                with self._lock:
                    self.writes -= 1
                    self.executed_requests.remove(f"DELETE {path}")
            return False
        return status != 404
