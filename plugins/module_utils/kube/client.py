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
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import AnsibleModule, env_fallback

try:
    from kubernetes import client as k8s_api
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException

    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test import sanity
    KUBERNETES_IMPORT_ERROR = exc
    ApiException = Exception

try:
    import urllib3

    CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, OSError)
except ImportError:  # pragma: no cover
    CONNECTION_ERRORS = (OSError,)

try:
    import yaml
except ImportError:  # pragma: no cover - the kubernetes package needs PyYAML
    yaml = None

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import FIELD_MANAGER

PROXY_HEADERS_ARGS = dict(
    proxy_basic_auth=dict(type="str", no_log=True,
                          fallback=(env_fallback, ["K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH"])),
    basic_auth=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_PROXY_HEADERS_BASIC_AUTH"])),
    user_agent=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY_HEADERS_USER_AGENT"])),
)

K8S_AUTH_ARGS = dict(
    # A path or a dict of kubeconfig content (tokens, keys). no_log hides every value of it from the first moment
    # (the module's log line, a failure before connecting); reveal_kubeconfig() shows again what is no secret.
    kubeconfig=dict(type="raw", no_log=True, fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False,
                    fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
    proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
    no_proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_NO_PROXY"])),
    # apply_defaults: the suboptions' variables apply when the task gives no proxy_headers (kubernetes.core's way).
    proxy_headers=dict(type="dict", options=PROXY_HEADERS_ARGS, apply_defaults=True),
    impersonate_user=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_IMPERSONATE_USER"])),
    impersonate_groups=dict(type="list", elements="str", fallback=(env_fallback, ["K8S_AUTH_IMPERSONATE_GROUPS"])),
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
    # The Prometheus Operator's custom resource: served only where its CRD is installed (K8sClient.serves).
    "ServiceMonitor": ("/apis/monitoring.coreos.com/v1", "servicemonitors", True),
}
RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))
# For type hints: an object as the apiserver gives it (parsed JSON), and a list of them (K8sClient has a `list`).
KubeObject = dict[str, Any]
KubeObjects = list[KubeObject]


class K8sError(Exception):
    """A failed API call: verb, kind/name, HTTP status and the apiserver's own message (never credentials)."""

    def __init__(self, verb: str, kind: str, name: str | None, status: int | None = None, message: str = "") -> None:
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


def api_path(kind: str, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
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


# A dict kubeconfig's values that may be credentials: everything of a user's entry but these (names, the
# exec plugin's command and apiVersion, which are no secret and would otherwise be hidden wherever they occur in
# the output), and anywhere a value whose key names a secret (certificate-authority-data, tokens, passwords).
_USER_NOT_SECRET = frozenset(("name", "apiVersion", "command", "interactiveMode", "installHint", "provideClusterInfo"))
_SECRET_KEY = re.compile(r"token|password|secret|key|-data$|credential", re.IGNORECASE)
_DICT_KUBECONFIG = "(given as a dict)"


def _values(value):
    """Every value of a structure as Ansible's no_log handling sees it (strings; numbers as text)."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _values(item)
    elif isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)


def kubeconfig_secrets(content: Any, user: bool = False) -> set[str]:
    """The values of kubeconfig content (a dict) that may be credentials."""
    secrets = set()
    items = content.items() if isinstance(content, Mapping) else \
        ((None, item) for item in content) if isinstance(content, (list, tuple)) else ()
    for key, value in items:
        if key is not None and _SECRET_KEY.search(str(key)):
            secrets.update(_values(value))
        elif isinstance(value, (Mapping, list, tuple)):
            secrets.update(kubeconfig_secrets(value, user or key == "user"))
        elif user and key not in _USER_NOT_SECRET:
            secrets.update(_values(value))
    return secrets


def _no_log_option_values(spec, params, skip=()):
    """The values Ansible hides for the no_log options of `spec` (suboptions included), but those of `skip`."""
    values = set()
    for name, option in spec.items():
        value = (params or {}).get(name)
        if name in skip or value is None:
            continue
        if option.get("no_log"):
            values.update(_values(value))
        elif option.get("options"):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping):
                    values.update(_no_log_option_values(option["options"], item))
    return values


def _is_path(value):
    """Whether a kubeconfig string can be a path (not kubeconfig content given as text by mistake)."""
    return "\n" not in value and not value.lstrip().startswith(("{", "apiVersion:")) and len(value) < 4096


def reveal_kubeconfig(module: AnsibleModule) -> None:
    """`kubeconfig` is no_log, so Ansible hides each value it holds wherever it appears in the output. Once the
    module runs, show again what is no secret: a path (so that errors name the file), and the parts of a dict
    other than its credentials (its names, "v1", "default" would otherwise be starred out of every message).
    A value that another no_log option also holds stays hidden."""
    kubeconfig = module.params.get("kubeconfig")
    if isinstance(kubeconfig, str):
        shown = {kubeconfig} if _is_path(kubeconfig) else set()
    elif isinstance(kubeconfig, Mapping):
        shown = set(_values(kubeconfig)) - kubeconfig_secrets(kubeconfig)
    else:
        return
    module.no_log_values.difference_update(
        shown - _no_log_option_values(module.argument_spec, module.params, skip=("kubeconfig",)))


def _kubeconfig_file(params):
    """(path, where it came from) of the kubeconfig file to load, or (None, None)."""
    kubeconfig = params.get("kubeconfig") or None
    if isinstance(kubeconfig, str):  # several files: separated as in KUBECONFIG (the client merges them)
        paths = [os.path.expanduser(os.path.expandvars(part)) for part in kubeconfig.split(os.pathsep) if part]
        return os.pathsep.join(paths), "option kubeconfig or K8S_AUTH_KUBECONFIG"
    if kubeconfig is None and (params.get("context") or not params.get("host")):
        variable = os.environ.get("KUBECONFIG")
        path = os.path.expanduser(variable.split(os.pathsep)[0] if variable else "~/.kube/config")
        if params.get("context") or os.path.exists(path):
            return path, ("KUBECONFIG" if variable else "the default path") + ", as option kubeconfig is not set"
    return None, None


def _read_kubeconfig(path, origin):
    """The content of a kubeconfig file; an error names the file and the option, never what the file holds."""

    def failed(problem):
        return K8sError("load", "kubeconfig", path, message=f"{problem} (from {origin})")

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise failed("no such file") from None
    except OSError as exc:
        raise failed(f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise failed("it is not UTF-8 text") from None
    if yaml is None:  # pragma: no cover
        return None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # Only the parser's kind of problem: its full message quotes the offending line.
        raise failed(f"not valid YAML{where}: {getattr(exc, 'problem', None) or type(exc).__name__}") from None
    if not isinstance(content, dict):
        raise failed(f"it does not hold a kubeconfig (a YAML mapping), but {type(content).__name__}")
    return content


def _load_kubeconfig(configuration, params):
    """Load the kubeconfig (a dict, a file, or none: the in-cluster service account) into `configuration`.
    True when something was loaded."""
    kubeconfig = params.get("kubeconfig") or None
    context = params.get("context")
    if kubeconfig is not None and not isinstance(kubeconfig, (str, Mapping)):
        raise K8sError("load", "kubeconfig", None, message=(
            f"the kubeconfig option takes a path or a dict of kubeconfig content, not {type(kubeconfig).__name__}"))
    if isinstance(kubeconfig, str) and not _is_path(kubeconfig):
        raise K8sError("load", "kubeconfig", None, message=(
            "the kubeconfig option holds text that is not a path: give kubeconfig content as a dict "
            "(for example through the from_yaml filter)"))
    path, origin = _kubeconfig_file(params)
    if isinstance(kubeconfig, Mapping):
        content, name = dict(kubeconfig), _DICT_KUBECONFIG
    elif path:
        content = {"files": [_read_kubeconfig(part, origin) for part in path.split(os.pathsep)]}
        name = path
    else:
        return False
    try:
        if isinstance(kubeconfig, Mapping):
            # In memory: only the client's own temporary copies of *-data fields are written, and removed when the
            # module ends (the kubernetes package's exit handler), as for a kubeconfig file.
            k8s_config.load_kube_config_from_dict(content, context=context, client_configuration=configuration,
                                                  persist_config=False)
        else:
            k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration,
                                        persist_config=False)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, (k8s_config.ConfigException, OSError)):
            message = str(exc).splitlines()[0][:500]
        else:  # the client stumbled over a field of another type or encoding; its words may quote the field
            kind = type(exc).__name__ if type(exc).__module__ == "builtins" else \
                f"{type(exc).__module__}.{type(exc).__name__}"
            message = f"not a valid kubeconfig: a field has an unexpected type or encoding ({kind})"
        for secret in sorted(kubeconfig_secrets(content or {}), key=len, reverse=True):
            message = message.replace(secret, "********")
        raise K8sError("load", "kubeconfig", name, message=message) from None
    return True


def _proxy_headers(options):
    given = {name: value for name, value in (options or {}).items() if value is not None}
    return urllib3.util.make_headers(**given) if given else None


def impersonation_headers(params: dict[str, Any]) -> list[tuple[str, str]]:
    """kubernetes.core's impersonation options as request headers: (name, value) pairs, one per group."""
    headers = [("Impersonate-User", params["impersonate_user"])] if params.get("impersonate_user") else []
    return headers + [("Impersonate-Group", group) for group in params.get("impersonate_groups") or [] if group]


def make_configuration(params: dict[str, Any]) -> Any:
    """A kubernetes Configuration from the module's auth options (kubernetes.core's precedence):
    host/api_key/certificates given directly; else kubeconfig (option as a path or a dict, KUBECONFIG,
    ~/.kube/config) with optional context and explicit overrides; else the in-cluster service account.
    The proxy options apply to every source (impersonation: impersonation_headers)."""
    host = params.get("host")
    configuration = k8s_api.Configuration()
    if not _load_kubeconfig(configuration, params) and not host:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException as exc:
            raise K8sError("connect to", "Kubernetes", None, message=(
                "no connection settings: give kubeconfig, or host (and api_key), or set K8S_AUTH_KUBECONFIG / "
                f"K8S_AUTH_HOST, or run inside a pod ({exc})")) from None
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
    if params.get("proxy"):
        configuration.proxy = params["proxy"]
    if params.get("no_proxy"):
        configuration.no_proxy = params["no_proxy"]
    headers = _proxy_headers(params.get("proxy_headers"))
    if headers:
        configuration.proxy_headers = headers
    return configuration


class RepeatedHeader(str):
    """The name of a header a request carries once per value (Impersonate-Group): as a dict key it equals only
    itself, so the plain dict of headers the REST layer passes to urllib3 holds, and urllib3 sends, one line per
    value (also where urllib3 copies them into its own header dict, for a request with a body, or a plain HTTP
    proxy's dict). The apiserver reads each line as one group; one line "a, b" would be the group "a, b"."""

    __slots__ = ()

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other


class K8sClient:
    """GET / LIST / server-side apply / DELETE on fixed paths, and Events; counts reads, writes, dry runs, Events."""

    def __init__(self, configuration: Any, retries: int = 4, backoff: float = 0.5,
                 timeout: tuple[float, float] = (10, 60), sleep: Callable[[float], Any] = time.sleep, *,
                 headers: Iterable[tuple[str, str]] = ()) -> None:
        self.configuration = configuration
        self.extra_headers = list(headers)  # (name, value): sent with every request, a name may repeat
        self.api_client = k8s_api.ApiClient(configuration)
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.reads = 0
        self.writes = 0
        self._served: dict[str, bool] = {}
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
    def from_params(cls, params: dict[str, Any]) -> K8sClient:
        return cls(make_configuration(params), headers=impersonation_headers(params))

    @property
    def counts(self) -> dict[str, int]:
        return {"reads": self.reads, "writes": self.writes, "dry_runs": self.dry_runs, "events": self.events}

    # -- transport ---------------------------------------------------------------------------------------

    def _headers(self, content_type=None):
        headers = {"Accept": "application/json", "User-Agent": FIELD_MANAGER}
        for setting in self.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        for name, value in self.extra_headers:
            headers[RepeatedHeader(name)] = value
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def request(self, verb: str, kind: str, name: str | None, method: str, path: str, *,
                query: dict[str, Any] | None = None, body: Any = None, content_type: str | None = None,
                idempotent: bool = True) -> tuple[int | None, Any]:
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

    def get(self, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        """The object, or None when it does not exist."""
        self._count("reads")
        status, body = self.request("get", kind, name, "GET", api_path(kind, namespace, name))
        return None if status == 404 else body

    def serves(self, kind: str) -> bool:
        """Whether the apiserver serves `kind` (for a custom resource: whether its CRD is installed), from the
        discovery document of its API group version, which every authenticated user may read."""
        if kind not in self._served:  # asked by the pre-flight, the plan and the prune of one run: read once
            prefix, plural, _namespaced = KINDS[kind]
            self._count("reads")
            status, body = self.request("discover", kind, None, "GET", prefix)
            self._served[kind] = status != 404 and any(r.get("name") == plural
                                                       for r in (body or {}).get("resources") or [])
        return self._served[kind]

    def list(self, kind: str, namespace: str | None = None,
             selector: dict[str, str] | str | None = None) -> KubeObjects:
        """Objects of a kind (in a namespace), optionally filtered by a label selector (dict or string)."""
        return self.list_versioned(kind, namespace, selector)[0]

    def list_versioned(self, kind: str, namespace: str | None = None,
                       selector: dict[str, str] | str | None = None) -> tuple[KubeObjects, str | None]:
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

    def watch_change(self, kind: str, namespace: str | None, selector: dict[str, str] | str | None,
                     resource_version: str | None, timeout: float) -> bool:
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

    def apply(self, manifest: KubeObject, dry_run: bool = False) -> KubeObject:
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

    def create_event(self, event: KubeObject) -> None:
        """POST an Event. Counted apart from `writes` and not in executed_requests: Events report the writes,
        they are not the cluster's state. Never retried (a retried POST could record it twice)."""
        self._count("events")
        namespace = event["metadata"]["namespace"]
        self.request("create", "Event", event["metadata"]["name"], "POST", api_path("Event", namespace),
                     body=event, content_type="application/json", idempotent=False)

    def delete(self, kind: str, name: str, namespace: str | None = None, dry_run: bool = False,
               propagation: str = "Background", *, uid: str | None = None) -> bool:
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
