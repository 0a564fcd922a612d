# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and defaulting of the `cluster` description (pure: no I/O).

`normalise_cluster(raw)` returns a fully defaulted copy or raises SpecError naming the field, for example
`cluster.node_groups[2].role`. Unknown keys are errors. Kubernetes pass-through values (resources, tolerations,
affinity, topology spread, security contexts, probe fields) keep the Kubernetes (camelCase) spelling and are
checked only for their outer type; the apiserver's dry run checks the rest before anything is written.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.shapes import Cluster, NodeGroup, SecretEnv
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SECRET_KEY_PATTERN, SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    BROKER_TAG_SUFFIX,
    DEFAULT_ORDER,
    RESERVED_LABEL_PREFIXES,
    ROLE_PORTS,
    ROLES,
    SERVER_TAG_SUFFIXES,
    ZONE_LABEL,
    ZOOKEEPER,
    sts_name,
)

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                       r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_KEY_NAME = re.compile(r"^[-._a-zA-Z0-9]+$")
PROPERTY_KEY = re.compile(r"^[A-Za-z0-9_][-A-Za-z0-9_.]*$")
QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
ZK_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]+)?(,[A-Za-z0-9.\-]+(:[0-9]+)?)*(/[A-Za-z0-9_.\-/]*)?$")
# A segment store outside the pod (s3://, gs://, hdfs://, adl2://...): anything with a scheme but file.
DEEP_STORE = re.compile(r"^(?!file:)[A-Za-z][A-Za-z0-9+.-]*://")
BARE_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Kubernetes expands $(NAME) in an env value from variables listed before it (JAVA_OPTS is rendered after them).
K8S_ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

# The longest name part: a StatefulSet's pods carry `controller-revision-hash: <sts>-<10 chars>`, a 63-char
# label value, so `<cluster>-<group>` may be at most 52 characters.
MAX_STS_NAME = 52

# Properties pinotops renders itself (those of the ports: facts.ROLE_PORTS): probes, Services and the start
# command depend on them.
MANAGED_PROPERTIES = {
    role: tuple(prop for _name, _port, prop, _client in ports)
    + (("controller.zk.str", "controller.helix.cluster.name") if role == "controller" else ())
    for role, ports in ROLE_PORTS.items()
}
COMMON_MANAGED_PROPERTIES = ("pinot.set.instance.id.to.hostname",)
# Built-in environment variables of every Pinot container (usable as ${env:NAME}).
BUILTIN_ENV = ("JAVA_OPTS", "POD_NAME", "POD_NAMESPACE")

# `deep_store`: Pinot's S3 file system plugin (S3PinotFS; it always uses path-style requests) for the roles that
# read or write segments; the AWS SDK reads the key pair from these variables (its default credentials chain).
S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[A-Za-z0-9!_.*'()/-]*)?$")
S3_REGION = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
HTTP_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")
S3_FS_CLASS = "org.apache.pinot.plugin.filesystem.S3PinotFS"
PINOT_FS_FETCHER = "org.apache.pinot.common.utils.fetcher.PinotFSSegmentFetcher"
DEEP_STORE_ROLES = ("controller", "server", "minion")
AWS_ENV = {"access_key_key": "AWS_ACCESS_KEY_ID", "secret_key_key": "AWS_SECRET_ACCESS_KEY"}
DEEP_STORE_KEYS = ("uri", "region", "endpoint", "credentials_secret")
CREDENTIALS_SECRET_KEYS = ("name", "access_key_key", "secret_key_key")

# `volumes` of a profile: Secrets and ConfigMaps as files. The names and mount points pinotops uses itself.
VOLUME_KEYS = ("name", "secret", "config_map", "mount_path", "items", "read_only", "optional")
RESERVED_VOLUMES = ("config", "data")
MOUNT_PATH = re.compile(r"^/([A-Za-z0-9._-]+/?)*$")

# `metrics` of a profile: the Prometheus JMX exporter's Java agent where the official image keeps it, serving
# /metrics on `port`; the pod gets Prometheus' scrape annotations, or a ServiceMonitor selects the group.
METRICS_KEYS = ("enabled", "port", "config", "jar", "service_monitor", "service_monitor_labels")
METRICS_HOME = "/opt/pinot/etc/jmx_prometheus_javaagent"
METRICS_JAR = f"{METRICS_HOME}/jmx_prometheus_javaagent.jar"
METRICS_PORT = 8008
METRICS_PATH = "/metrics"
# A path inside the image: -javaagent:<jar>=<port>:<config> is one word of JAVA_OPTS, split at its '=' and ':'.
IMAGE_FILE = re.compile(r"^/([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$")
# A -javaagent of jvm_opts that is a Prometheus JMX exporter too (it would serve a second endpoint, or fail to bind).
JMX_EXPORTER_JAR = re.compile(r"jmx_prometheus|jmx_exporter", re.IGNORECASE)

PROFILE_KEYS = {
    "resources": dict, "storage": dict, "node_selector": dict, "tolerations": list, "affinity": dict,
    "topology_spread": list, "pod_labels": dict, "pod_annotations": dict, "service": dict, "probes": dict,
    "termination_grace_period_seconds": int, "security_context": dict, "pod_security_context": dict,
    "service_account": str, "priority_class_name": str, "env": dict, "image_pull_policy": str,
    "pod_management_policy": str, "volumes": list, "metrics": dict,
}
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
POD_MANAGEMENT_POLICIES = ("OrderedReady", "Parallel")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PROBE_NAMES = ("startup", "readiness", "liveness")


def _path(base, key):
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else str(key)


def _validate_keys(value, allowed, field, required=()):
    if not isinstance(value, dict):
        raise SpecError(field, f"must be a mapping, not {type(value).__name__}")
    unknown = sorted(set(value) - set(allowed), key=str)
    if unknown:
        raise SpecError(_path(field, unknown[0]),
                        f"unknown key; expected one of: {', '.join(sorted(allowed))}")
    for key in required:
        if value.get(key) is None:
            raise SpecError(_path(field, key), "is required")


def _booleans(mapping, flags, field):
    for flag in flags:
        if mapping.get(flag) is not None and not isinstance(mapping[flag], bool):
            raise SpecError(_path(field, flag), "must be a boolean")


def _type(value, expected, field):
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(field, f"must be an integer, not {type(value).__name__}")
    elif expected is str:
        if not isinstance(value, str) or not value:
            raise SpecError(field, "must be a non-empty string")
    elif not isinstance(value, expected):
        raise SpecError(field, f"must be a {'mapping' if expected is dict else 'list'}, not {type(value).__name__}")
    return value


def _dns_label(value, field, pattern=DNS1123_LABEL, what="a DNS-1123 label (lower-case letters, digits, '-')"):
    if not isinstance(value, str) or not pattern.match(value) or len(value) > 63:
        raise SpecError(field, f"{value!r} is not {what}")
    return value


def _string_map(value, field, keys=LABEL_KEY, values=None):
    _type(value, dict, field)
    for key, item in value.items():
        if not isinstance(key, str) or not keys.match(key):
            raise SpecError(_path(field, key), "is not a valid key")
        if not isinstance(item, str):
            raise SpecError(_path(field, key), f"must be a string, not {type(item).__name__} (quote it)")
        if values is not None and (not values.match(item) or len(item) > 63):
            raise SpecError(_path(field, key), f"{item!r} is not a valid label value")
    return dict(value)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` merged over `base`: mappings recursively, everything else (lists too) replaced."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def parse_quantity(text: str | int | float) -> float:
    """A Kubernetes quantity as a float (bytes for memory/storage), for comparisons."""
    match = QUANTITY.match(str(text))
    if not match:
        raise ValueError(text)
    number = float(match.group(1))
    suffix = match.group(3) or ""
    binary = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
    decimal = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
    if suffix in binary:
        return number * binary[suffix]
    if suffix in decimal:
        return number * decimal[suffix]
    return number * 10 ** int(suffix[1:])


def _quantity(value, field):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not QUANTITY.match(str(value)):
        raise SpecError(field, f"{value!r} is not a Kubernetes quantity (e.g. 10Gi, 500m)")
    return str(value)


def _profile(raw, field):
    """Check one profile (or an `overrides` block); returns a copy. Nothing is defaulted here."""
    _validate_keys(raw, PROFILE_KEYS, field)
    profile = copy.deepcopy(raw)
    for key, value in profile.items():
        sub = _path(field, key)
        if value is None:
            continue
        _type(value, PROFILE_KEYS[key], sub)
        validate = PROFILE_VALIDATORS.get(key)
        if validate is not None:
            validate(value, sub)
    return profile


def _validate_storage(value, field):
    _validate_keys(value, ("size", "class", "access_modes"), field)
    if value.get("size") is not None:
        value["size"] = _quantity(value["size"], _path(field, "size"))
    if value.get("class") is not None:
        _dns_label(value["class"], _path(field, "class"), DNS1123_SUBDOMAIN, "a StorageClass name")
    if value.get("access_modes") is not None:
        modes = _type(value["access_modes"], list, _path(field, "access_modes"))
        allowed = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
        for index, mode in enumerate(modes):
            if mode not in allowed:
                raise SpecError(_path(_path(field, "access_modes"), index),
                                f"{mode!r} is not one of {', '.join(allowed)}")


def _validate_resources(value, field):
    _validate_keys(value, ("requests", "limits", "claims"), field)
    for part in ("requests", "limits"):
        for res, qty in _type(value.get(part) or {}, dict, _path(field, part)).items():
            _quantity(qty, f"{field}.{part}.{res}")


def _validate_label_values(value, field):
    _string_map(value, field, values=LABEL_VALUE)


def _validate_pod_labels(value, field):
    _string_map(value, field, values=LABEL_VALUE)
    reserved = [k for k in value if k.startswith(RESERVED_LABEL_PREFIXES)]
    if reserved:
        raise SpecError(_path(field, reserved[0]), "is set by pinotops and cannot be overridden")


def _validate_env(value, field):
    for name, item in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise SpecError(_path(field, name), "is not a valid environment variable name")
        if name in BUILTIN_ENV:
            raise SpecError(_path(field, name), "is set by pinotops (use pinot.*.jvm_opts for JAVA_OPTS)")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise SpecError(_path(field, name), "must be a string")
        if SECRET_KEY_PATTERN.search(name):
            raise SpecError(_path(field, name), "looks like a credential: use cluster.secret_env so the "
                            "value comes from a Kubernetes Secret")
        value[name] = str(item)


def _validate_service(value, field):
    _validate_keys(value, ("type", "annotations", "labels"), field)
    if value.get("type") is not None:
        _validate_one_of(SERVICE_TYPES)(value["type"], _path(field, "type"))
    if value.get("annotations") is not None:
        _string_map(value["annotations"], _path(field, "annotations"))
    if value.get("labels") is not None:
        _string_map(value["labels"], _path(field, "labels"), values=LABEL_VALUE)


def _validate_probes(value, field):
    _validate_keys(value, PROBE_NAMES, field)
    for name, probe in value.items():
        if probe is not None:
            _type(probe, dict, _path(field, name))


def _validate_not_negative(value, field):
    if value < 0:
        raise SpecError(field, "must be 0 or more")


def _validate_service_account(value, field):
    _dns_label(value, field, DNS1123_SUBDOMAIN, "a ServiceAccount name")


def _validate_one_of(allowed):
    def validate(value, field):
        if value not in allowed:
            raise SpecError(field, f"{value!r} is not one of {', '.join(allowed)}")
    return validate


def _validate_mappings(value, field):
    for index, item in enumerate(value):
        _type(item, dict, _path(field, index))


def _validate_topology_spread(value, field):
    for index, item in enumerate(value):
        _type(item, dict, _path(field, index))
        if not item.get("topologyKey"):
            raise SpecError(_path(_path(field, index), "topologyKey"), "is required")


def _volumes(volumes, field):
    """Secret and ConfigMap volumes of a profile; the paths pinotops mounts are checked per group (by role)."""
    names, paths = set(), set()
    for index, volume in enumerate(volumes):
        sub = _path(field, index)
        _validate_keys(volume, VOLUME_KEYS, sub, required=("name", "mount_path"))
        name = _dns_label(volume["name"], _path(sub, "name"))
        if name in RESERVED_VOLUMES:
            raise SpecError(_path(sub, "name"), f"{name!r} is the name of a volume pinotops mounts itself")
        if name in names:
            raise SpecError(_path(sub, "name"), f"duplicate volume name {name!r}")
        names.add(name)
        if (volume.get("secret") is None) == (volume.get("config_map") is None):
            raise SpecError(sub, "give exactly one of 'secret' or 'config_map'")
        source = "secret" if volume.get("secret") is not None else "config_map"
        _dns_label(volume[source], _path(sub, source), DNS1123_SUBDOMAIN,
                   "a Secret name" if source == "secret" else "a ConfigMap name")
        mount_path = volume["mount_path"]
        if not isinstance(mount_path, str) or not MOUNT_PATH.match(mount_path) or ".." in mount_path.split("/") \
                or mount_path.rstrip("/") in ("", "/."):
            raise SpecError(_path(sub, "mount_path"), f"{mount_path!r} is not an absolute path below /")
        volume["mount_path"] = mount_path.rstrip("/")
        if volume["mount_path"] in paths:
            raise SpecError(_path(sub, "mount_path"), f"two volumes are mounted at {volume['mount_path']}")
        paths.add(volume["mount_path"])
        _booleans(volume, ("read_only", "optional"), sub)
        items = volume.get("items")
        if items is not None:
            _type(items, list, _path(sub, "items"))
            for item_index, item in enumerate(items):
                item_field = _path(_path(sub, "items"), item_index)
                _validate_keys(item, ("key", "path"), item_field, required=("key", "path"))
                if not isinstance(item["key"], str) or not SECRET_KEY_NAME.match(item["key"]):
                    raise SpecError(_path(item_field, "key"), f"{item['key']!r} is not a valid key")
                path = item["path"]
                if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
                    raise SpecError(_path(item_field, "path"), f"{path!r} is not a relative path without '..'")


def _metrics(metrics, field):
    """The fields of a profile's (or an `overrides`') `metrics`, each as given; what depends on the role is checked
    per group (_group_metrics)."""
    _validate_keys(metrics, METRICS_KEYS, field)
    _booleans(metrics, ("enabled", "service_monitor"), field)
    port = metrics.get("port")
    if port is not None:
        _type(port, int, _path(field, "port"))
        if not 1 <= port <= 65535:
            raise SpecError(_path(field, "port"), f"{port} is not a port number (1 to 65535)")
    for name in ("config", "jar"):
        path = metrics.get(name)
        if path is not None and (not isinstance(path, str) or not IMAGE_FILE.match(path)
                                 or ".." in path.split("/")):
            raise SpecError(_path(field, name), f"{path!r} is not an absolute file path in the image (letters, "
                            "digits, '.', '_', '-' and '/'; no blanks, ':' or '=', which the -javaagent option "
                            "uses as separators)")
    labels = metrics.get("service_monitor_labels")
    if labels is not None:
        sub = _path(field, "service_monitor_labels")
        _string_map(labels, sub, values=LABEL_VALUE)
        reserved = [k for k in labels if k.startswith(RESERVED_LABEL_PREFIXES)]
        if reserved:
            raise SpecError(_path(sub, reserved[0]), "is set by pinotops and cannot be overridden")


def _setting_field(group, field, profiles_field, *keys):
    """The field a group's merged setting `keys` came from: its `overrides` where they give it, else its profile."""
    overrides = group.get("overrides") or {}
    for key in keys:
        if not isinstance(overrides, dict) or key not in overrides:
            break
        overrides = overrides[key]
    else:
        return ".".join([_path(field, "overrides"), *keys])
    if group.get("profile") is None:  # nothing to blame but the group's overrides
        return _path(field, "overrides")
    return ".".join([f"{profiles_field}.{group['profile']}", *keys])


def metrics_config(role: str) -> str:
    """The official image's exporter config of a role (the test bed's image has one of the same name)."""
    return f"{METRICS_HOME}/configs/{role}.yml"


def _group_metrics(group, field, role, *, settings, jvm_opts, jvm_field, profiles_field):
    """The metrics a group's pods export, defaulted (None without `metrics`, or with `enabled: false`): the
    agent's port must not be one of the role's own, jvm_opts must not start another JMX exporter, and the pod's
    own annotations must not give Prometheus' scrape annotations other values."""
    merged = settings.get("metrics")
    if merged is None or merged.get("enabled") is False:
        return None

    def where(*keys):
        return _setting_field(group, field, profiles_field, *keys)

    metrics = {"port": merged.get("port") or METRICS_PORT, "path": METRICS_PATH,
               "config": merged.get("config") or metrics_config(role), "jar": merged.get("jar") or METRICS_JAR,
               "service_monitor": bool(merged.get("service_monitor")),
               "service_monitor_labels": dict(merged.get("service_monitor_labels") or {})}
    for name, port, prop, _client in ROLE_PORTS[role]:
        if metrics["port"] == port:
            raise SpecError(where("metrics", "port"), f"{port} is the {role}'s {name} port ({prop}): choose "
                            "another port for the metrics endpoint")
    for option in jvm_opts.split():
        agent = option[len("-javaagent:"):].split("=", 1)[0] if option.startswith("-javaagent:") else None
        if agent and (agent == metrics["jar"] or JMX_EXPORTER_JAR.search(agent.rsplit("/", 1)[-1])):
            raise SpecError(jvm_field, f"starts the JMX exporter ({option.split('=', 1)[0]}), which `metrics` "
                            "starts already: remove the -javaagent option (metrics.port and metrics.config set its "
                            "port and rules) or remove `metrics`")
    if not metrics["service_monitor"]:
        for key, value in scrape_annotations(metrics).items():
            given = (settings.get("pod_annotations") or {}).get(key)
            if given is not None and given != value:
                raise SpecError(where("pod_annotations", key), f"is {given!r}, but `metrics` sets it to {value!r}: "
                                "remove it (pinotops renders Prometheus' scrape annotations), or set "
                                "metrics.enabled to false and annotate the pods yourself")
    return metrics


def scrape_annotations(metrics: dict[str, Any]) -> dict[str, str]:
    """Prometheus' pod annotations for the metrics endpoint (the kubernetes-pods scrape job of its examples)."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(metrics["port"]),
            "prometheus.io/path": metrics["path"]}


def _validate_volume_paths(settings, role, field):
    """A volume mounted at, below or above the role's config or data directory would hide or shadow it."""
    for index, volume in enumerate(settings.get("volumes") or []):
        mount = volume["mount_path"]
        for own in (f"/var/pinot/{role}/config", f"/var/pinot/{role}/data"):
            if mount == own or mount.startswith(own + "/") or own.startswith(mount + "/"):
                raise SpecError(_path(_path(_path(field, "volumes"), index), "mount_path"),
                                f"{mount} clashes with {own}, which pinotops mounts for the {role}")


def _deep_store(raw, field, secret_env):
    """The S3 deep store, or None. Its credentials become secret_env entries of the roles that use it."""
    if raw is None:
        return None
    _validate_keys(raw, DEEP_STORE_KEYS, field, required=("uri", "region"))
    if not isinstance(raw["uri"], str) or not S3_URI.match(raw["uri"]):
        raise SpecError(_path(field, "uri"), f"{raw['uri']!r} is not an S3 URI (s3://bucket[/path]); other deep "
                        "stores are set with Pinot properties (docs/storage.md)")
    if not isinstance(raw["region"], str) or not S3_REGION.match(raw["region"]):
        raise SpecError(_path(field, "region"), f"{raw['region']!r} is not an AWS region name (e.g. us-east-1)")
    endpoint = raw.get("endpoint")
    if endpoint is not None and (not isinstance(endpoint, str) or not HTTP_ENDPOINT.match(endpoint)):
        raise SpecError(_path(field, "endpoint"), f"{endpoint!r} is not an http(s)://host[:port] URL")
    result = {"uri": raw["uri"].rstrip("/"), "region": raw["region"], "endpoint": endpoint, "credentials_secret": None}
    credentials = raw.get("credentials_secret")
    if credentials is not None:
        sub = _path(field, "credentials_secret")
        _validate_keys(credentials, CREDENTIALS_SECRET_KEYS, sub, required=("name",))
        _dns_label(credentials["name"], _path(sub, "name"), DNS1123_SUBDOMAIN, "a Secret name")
        keys = {}
        for option, default in AWS_ENV.items():
            key = credentials.get(option, default)
            if not isinstance(key, str) or not SECRET_KEY_NAME.match(key):
                raise SpecError(_path(sub, option), f"{key!r} is not a valid Secret key")
            keys[option] = key
        taken = [item["name"] for item in secret_env if item["name"] in AWS_ENV.values()]
        if taken:
            raise SpecError(sub, f"sets {taken[0]} for the AWS SDK, which cluster.secret_env sets as well")
        result["credentials_secret"] = {"name": credentials["name"], **keys}
    return result


def deep_store_env(deep_store: dict[str, Any] | None, role: str) -> list[SecretEnv]:
    """The secret_env entries the deep store gives a role's containers (the AWS SDK reads them)."""
    credentials = (deep_store or {}).get("credentials_secret")
    if not credentials or role not in DEEP_STORE_ROLES:
        return []
    return [{"name": name, "secret": credentials["name"], "key": credentials[option], "roles": [role],
             "optional": False} for option, name in AWS_ENV.items()]


def deep_store_properties(deep_store: dict[str, Any] | None, role: str) -> dict[str, str]:
    """The Pinot properties that put a role's segments in the S3 deep store (none without one)."""
    if not deep_store or role not in DEEP_STORE_ROLES:
        return {}
    prefix = f"pinot.{role}"
    properties = {f"{prefix}.storage.factory.class.s3": S3_FS_CLASS,
                  f"{prefix}.storage.factory.s3.region": deep_store["region"],
                  f"{prefix}.segment.fetcher.protocols": "file,http,s3",
                  f"{prefix}.segment.fetcher.s3.class": PINOT_FS_FETCHER}
    if deep_store["endpoint"]:
        properties[f"{prefix}.storage.factory.s3.endpoint"] = deep_store["endpoint"]
    if role == "controller":
        properties["controller.data.dir"] = deep_store["uri"]
    elif role == "server":
        # Where a server uploads the segments it commits itself (a table with peerSegmentDownloadScheme or
        # serverUploadToDeepStore); without it they would be committed with no deep store copy at all.
        properties["pinot.server.instance.segment.store.uri"] = deep_store["uri"]
    return properties


def secret_references(cluster: Cluster) -> list[dict[str, Any]]:
    """Every Secret key the description makes pods read, as dicts of `secret`, `key`, `roles`, `optional` and the
    fields that name them (`secret_field`, `key_field`), for the checks before any write: cluster.secret_env's and
    the deep store's credentials."""
    refs = [{"secret": item["secret"], "key": item["key"], "roles": item["roles"], "optional": item["optional"],
             "secret_field": f"cluster.secret_env[{index}].secret", "key_field": f"cluster.secret_env[{index}].key"}
            for index, item in enumerate(cluster["secret_env"])]
    credentials = (cluster.get("deep_store") or {}).get("credentials_secret")
    if credentials:
        field = "cluster.deep_store.credentials_secret"
        refs += [{"secret": credentials["name"], "key": credentials[option], "roles": list(DEEP_STORE_ROLES),
                  "optional": False, "secret_field": f"{field}.name", "key_field": f"{field}.{option}"}
                 for option in AWS_ENV]
    return refs


def _pinot_config(raw, field, role, secret_env_names, env_names):
    """`{properties, jvm_opts}` of a role or group; values rendered as strings."""
    _validate_keys(raw, ("properties", "jvm_opts"), field)
    result = {}
    if raw.get("jvm_opts") is not None:
        if not isinstance(raw["jvm_opts"], str):
            raise SpecError(_path(field, "jvm_opts"), "must be a string")
        result["jvm_opts"] = " ".join(raw["jvm_opts"].split())
        _validate_jvm_opts(result["jvm_opts"], _path(field, "jvm_opts"), role, secret_env_names, env_names)
    props = raw.get("properties")
    if props is not None:
        _type(props, dict, _path(field, "properties"))
        rendered = {}
        managed = MANAGED_PROPERTIES[role] + COMMON_MANAGED_PROPERTIES
        for key, value in props.items():
            sub = f"{field}.properties[{key}]" if isinstance(key, str) else f"{field}.properties"
            if not isinstance(key, str) or not PROPERTY_KEY.match(key):
                raise SpecError(sub, f"{key!r} is not a valid property name")
            if key in managed:
                raise SpecError(sub, "is set by pinotops (ports, ZooKeeper address, cluster name and instance ids "
                                "must agree with the probes and Services it renders)")
            if isinstance(value, list):
                if not all(isinstance(v, (str, int, float, bool)) for v in value):
                    raise SpecError(sub, "a list must hold only strings or numbers")
                text = ",".join(_scalar(v) for v in value)
            elif isinstance(value, (str, int, float, bool)):
                text = _scalar(value)
            else:
                raise SpecError(sub, f"must be a string, number, boolean or list, not {type(value).__name__}")
            if "\n" in text or "\r" in text:
                raise SpecError(sub, "must not contain line breaks")
            bare = BARE_REFERENCE.match(text)
            if bare and bare.group(1) in secret_env_names:
                raise SpecError(sub, f"Pinot reads environment variables as ${{env:{bare.group(1)}}}, "
                                f"not ${{{bare.group(1)}}}")
            _validate_env_references(ENV_REFERENCE.findall(text), "${{env:{}}}", sub, role=role,
                                     secret_env_names=secret_env_names, env_names=env_names)
            if SECRET_KEY_PATTERN.search(key):
                match = ENV_REFERENCE.fullmatch(text)
                if not match or match.group(1) not in secret_env_names:
                    raise SpecError(sub, "looks like a credential and would be stored in plaintext in a ConfigMap: "
                                    "put the value in a Kubernetes Secret, list it in cluster.secret_env and write "
                                    "the property as ${env:NAME} (Pinot interpolates whole values only)")
            rendered[key] = text
        result["properties"] = rendered
    return result


def _validate_env_references(names, spelling, field, *, role, secret_env_names, env_names):
    for name in names:
        if name not in secret_env_names and name not in env_names and name not in BUILTIN_ENV:
            raise SpecError(field, f"refers to {spelling.format(name)}, which is not defined for the {role} role "
                            "(add it to cluster.secret_env with this role, or to the profile's env)")


def _validate_jvm_opts(jvm_opts, field, role, secret_env_names, env_names):
    """No credential in plaintext in JAVA_OPTS (it is stored in the StatefulSet): `-Dkey=$(NAME)` from secret_env."""
    _validate_env_references(K8S_ENV_REFERENCE.findall(jvm_opts), "$({})", field, role=role,
                             secret_env_names=secret_env_names, env_names=env_names)
    for option in jvm_opts.split():
        key, sep, value = option[2:].partition("=")
        if not option.startswith("-D") or not sep or not SECRET_KEY_PATTERN.search(key):
            continue
        match = K8S_ENV_REFERENCE.fullmatch(value)
        if not match or match.group(1) not in secret_env_names:
            raise SpecError(field, f"-D{key} looks like a credential and would be stored in plaintext in the "
                            "StatefulSet: put the value in a Kubernetes Secret, list it in cluster.secret_env and "
                            f"write -D{key}=$(NAME)")


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _zookeeper(raw, field, profiles):
    _type(raw, dict, field)
    _validate_keys(raw, ("address", "managed"), field)
    if (raw.get("address") is None) == (raw.get("managed") is None):
        raise SpecError(field, "give exactly one of 'address' (an existing ZooKeeper) or 'managed'")
    if raw.get("address") is not None:
        address = raw["address"]
        if not isinstance(address, str) or not ZK_ADDRESS.match(address):
            raise SpecError(_path(field, "address"), f"{address!r} is not a ZooKeeper connect string "
                            "(host:port[,host:port...][/chroot])")
        return {"address": address, "managed": None}
    sub = _path(field, "managed")
    managed = raw["managed"]
    _validate_keys(managed, ("replicas", "image", "storage", "profile"), sub)
    replicas = managed.get("replicas", 3)
    _type(replicas, int, _path(sub, "replicas"))
    if replicas < 1:
        raise SpecError(_path(sub, "replicas"), "must be 1 or more")
    image = managed.get("image", "zookeeper:3.9.3")
    _type(image, str, _path(sub, "image"))
    storage = managed.get("storage") or {}
    _validate_keys(storage, ("size", "class"), _path(sub, "storage"))
    result_storage = {"size": _quantity(storage.get("size", "5Gi"), _path(sub, "storage.size")),
                      "class": storage.get("class")}
    if result_storage["class"] is not None:
        _dns_label(result_storage["class"], _path(sub, "storage.class"), DNS1123_SUBDOMAIN, "a StorageClass name")
    profile = managed.get("profile")
    if profile is not None and profile not in profiles:
        raise SpecError(_path(sub, "profile"), f"unknown profile {profile!r}; defined: {', '.join(profiles) or 'none'}")
    return {"address": None, "managed": {"replicas": replicas, "image": image, "storage": result_storage,
                                         "profile": profile}}


def _secret_env(raw, field):
    _type(raw, list, field)
    result = []
    seen = set()
    for index, item in enumerate(raw):
        sub = _path(field, index)
        _validate_keys(item, ("name", "secret", "key", "roles", "optional"), sub, required=("name", "secret", "key"))
        name = item["name"]
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise SpecError(_path(sub, "name"), f"{name!r} is not a valid environment variable name")
        if name in BUILTIN_ENV:
            raise SpecError(_path(sub, "name"), f"{name} is set by pinotops")
        if name in seen:
            raise SpecError(_path(sub, "name"), f"duplicate environment variable {name!r}")
        seen.add(name)
        _dns_label(item["secret"], _path(sub, "secret"), DNS1123_SUBDOMAIN, "a Secret name")
        if not isinstance(item["key"], str) or not SECRET_KEY_NAME.match(item["key"]):
            raise SpecError(_path(sub, "key"), f"{item['key']!r} is not a valid Secret key")
        roles = item.get("roles", list(ROLES))
        _type(roles, list, _path(sub, "roles"))
        for rindex, role in enumerate(roles):
            if role not in ROLES:
                raise SpecError(_path(_path(sub, "roles"), rindex), f"unknown role {role!r}; expected one of "
                                f"{', '.join(ROLES)}")
        _booleans(item, ("optional",), sub)
        result.append({"name": name, "secret": item["secret"], "key": item["key"], "roles": sorted(set(roles)),
                       "optional": item.get("optional", False)})
    return result


CLUSTER_KEYS = ("name", "namespace", "image", "image_pull_secrets", "helix_cluster_name", "zookeeper", "pinot",
                "secret_env", "deep_store", "profiles", "node_groups", "deployment_order", "zone_pools")
GROUP_KEYS = ("name", "role", "replicas", "zone", "zones", "image", "profile", "overrides", "pinot", "tags", "pool")


def normalise_identity(raw: Any, field: str = "cluster") -> tuple[str, str]:
    """Only name and namespace (enough for state=absent and the info module)."""
    if not isinstance(raw, dict):
        raise SpecError(field, "must be a mapping")
    name = _dns_label(raw.get("name"), _path(field, "name"), DNS1035_LABEL,
                      "a DNS-1035 label (lower-case letters, digits and '-', starting with a letter)")
    if len(name) > 40:
        raise SpecError(_path(field, "name"), "must be at most 40 characters (it prefixes every object name)")
    namespace = _dns_label(raw.get("namespace"), _path(field, "namespace"))
    return name, namespace


def normalise_cluster(raw: Any, field: str = "cluster") -> Cluster:
    """The validated, defaulted description. Raises SpecError naming the first bad field."""
    if not isinstance(raw, dict):
        raise SpecError(field, "must be a mapping")
    _validate_keys(raw, CLUSTER_KEYS, field, required=("name", "namespace", "image", "zookeeper", "node_groups"))
    name, namespace = normalise_identity(raw, field)
    image = _type(raw["image"], str, _path(field, "image"))
    pull_secrets = _image_pull_secrets(raw.get("image_pull_secrets") or [], _path(field, "image_pull_secrets"))
    helix = raw.get("helix_cluster_name") or name
    if not isinstance(helix, str) or not re.match(r"^[A-Za-z0-9_\-]+$", helix):
        raise SpecError(_path(field, "helix_cluster_name"), f"{helix!r} must hold only letters, digits, '_' and '-'")
    profiles = _profiles(raw.get("profiles") or {}, field)
    zookeeper = _zookeeper(raw["zookeeper"], _path(field, "zookeeper"), profiles)
    secret_env = _secret_env(raw.get("secret_env") or [], _path(field, "secret_env"))
    deep_store = _deep_store(raw.get("deep_store"), _path(field, "deep_store"), secret_env)
    pinot = raw.get("pinot") or {}
    _validate_keys(pinot, ROLES, _path(field, "pinot"))
    cluster = {"name": name, "namespace": namespace, "image": image, "image_pull_secrets": pull_secrets,
               "helix_cluster_name": helix, "zookeeper": zookeeper, "secret_env": secret_env,
               "deep_store": deep_store, "profiles": profiles}

    groups = _node_groups(raw["node_groups"], field, cluster, pinot)
    present = [role for role in ROLES if any(g["role"] == role for g in groups)]
    if "controller" not in present:
        raise SpecError(_path(field, "node_groups"), "a Pinot cluster needs at least one controller group")
    order = _deployment_order(raw.get("deployment_order"), present, _path(field, "deployment_order"))
    _validate_controllers_share_segments(groups, field)
    _validate_services(groups, field)
    zone_pools = _zone_pools(raw.get("zone_pools"), groups, field)
    for group in groups:
        if group["role"] == "server" and group["pool"] is None and len(group["zones"]) == 1:
            group["pool"] = zone_pools[group["zones"][0]]
    return {**cluster, "node_groups": groups, "deployment_order": order, "zone_pools": zone_pools}


def _zone_pools(raw, groups, field):
    """{zone: Pinot pool} for every zone a server group is alone in: `zone_pools` where given, else the pool a
    group of the zone names, else the lowest pool no zone holds, zones taken in name order. Pinot places a
    zone-aware table's replica groups by pool, so a zone has one pool and a pool one zone."""
    pools_field = _path(field, "zone_pools")
    given = dict(_type(raw, dict, pools_field)) if raw is not None else {}
    zoned = [(index, g) for index, g in enumerate(groups) if g["role"] == "server" and len(g["zones"]) == 1]
    served = {g["zones"][0] for _index, g in zoned}
    for zone, pool in given.items():
        if zone not in served:
            raise SpecError(_path(pools_field, zone), "no server node group is in this zone alone")
        _type(pool, int, _path(pools_field, zone))
        if pool < 0:
            raise SpecError(_path(pools_field, zone), "must be 0 or more")
    claimed = {}  # pool -> (zone, the field that gave it)
    for zone, pool in given.items():
        _claim(claimed, pool, zone, _path(pools_field, zone))
    for index, group in zoned:
        zone, pool = group["zones"][0], group["pool"]
        if pool is None:
            continue
        where = _path(_path(_path(field, "node_groups"), index), "pool")
        if given.setdefault(zone, pool) != pool:
            raise SpecError(where, f"zone {zone} is pool {given[zone]} already: a zone is one Pinot pool")
        _claim(claimed, pool, zone, where)
    # A pool given to a group in no zone or several is that group's: never handed to a zone.
    unzoned = set()
    for index, group in enumerate(groups):
        if group["pool"] is not None and len(group["zones"]) != 1:
            where = _path(_path(_path(field, "node_groups"), index), "pool")
            if group["pool"] in claimed:
                raise SpecError(where, f"pool {group['pool']} is zone {claimed[group['pool']][0]}'s")
            unzoned.add(group["pool"])
    free = (n for n in range(len(served) + len(claimed) + len(unzoned) + 1) if n not in claimed and n not in unzoned)
    for zone in sorted(served - set(given)):
        given[zone] = next(free)
    return dict(sorted(given.items()))


def _claim(claimed, pool, zone, where):
    holder = claimed.setdefault(pool, (zone, where))
    if holder[0] != zone:
        raise SpecError(where, f"pool {pool} is zone {holder[0]}'s already ({holder[1]}): two zones in one pool "
                        "would let a segment's replicas share a zone")


def _image_pull_secrets(raw, field):
    _type(raw, list, field)
    for index, secret in enumerate(raw):
        _dns_label(secret, _path(field, index), DNS1123_SUBDOMAIN, "a Secret name")
    return list(raw)


# What _profile checks in each key of a profile beyond its type (PROFILE_KEYS); a key not here is passed on as given.
PROFILE_VALIDATORS = {
    "storage": _validate_storage,
    "resources": _validate_resources,
    "node_selector": _validate_label_values,
    "pod_labels": _validate_pod_labels,
    "pod_annotations": _string_map,
    "env": _validate_env,
    "service": _validate_service,
    "probes": _validate_probes,
    "termination_grace_period_seconds": _validate_not_negative,
    "service_account": _validate_service_account,
    "image_pull_policy": _validate_one_of(PULL_POLICIES),
    "pod_management_policy": _validate_one_of(POD_MANAGEMENT_POLICIES),
    "volumes": _volumes,
    "metrics": _metrics,
    "tolerations": _validate_mappings,
    "topology_spread": _validate_topology_spread,
}


def _profiles(raw, field):
    """The named profiles, each checked (`field` is the cluster's)."""
    _type(raw, dict, _path(field, "profiles"))
    profiles = {}
    for name, profile in raw.items():
        _dns_label(name, f"{field}.profiles", LABEL_VALUE, "a profile name (letters, digits, '-', '_', '.')")
        profiles[name] = _profile(profile or {}, f"{field}.profiles.{name}")
    return profiles


def _node_groups(raw, field, cluster, pinot):
    """Each node group in turn (`field` is the cluster's); `pinot` holds the settings of each role."""
    groups_field = _path(field, "node_groups")
    _type(raw, list, groups_field)
    if not raw:
        raise SpecError(groups_field, "must describe at least one node group")
    groups = []
    for index, group in enumerate(raw):
        groups.append(_node_group(group, _path(groups_field, index), cluster, pinot=pinot, pinot_field=f"{field}.pinot",
                                  profiles_field=f"{field}.profiles", taken={g["name"] for g in groups}))
    return groups


def _node_group(raw, field, cluster, *, pinot, pinot_field, profiles_field, taken):
    """One node group. `cluster` holds the cluster-wide values it inherits, `taken` the names of earlier groups."""
    _validate_keys(raw, GROUP_KEYS, field, required=("name", "role"))
    name = _group_name(raw["name"], _path(field, "name"), cluster, taken)
    role = raw["role"]
    if role not in ROLES:
        raise SpecError(_path(field, "role"), f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    replicas = raw.get("replicas")
    if replicas is not None:
        _type(replicas, int, _path(field, "replicas"))
        if replicas < 0:
            raise SpecError(_path(field, "replicas"), f"must be 0 or more, not {replicas}")
    zones = _zones(raw, field)
    image = _type(raw.get("image") or cluster["image"], str, _path(field, "image"))
    profile, settings = _group_settings(raw, field, cluster["profiles"])
    settings_field = _path(field, "overrides" if profile is None else "profile")
    _validate_volume_paths(settings, role, settings_field)
    secret_env = [item for item in cluster["secret_env"] if role in item["roles"]]
    secret_env += deep_store_env(cluster["deep_store"], role)
    properties, jvm_opts = _group_pinot(raw.get("pinot"), _path(field, "pinot"), role, role_raw=pinot.get(role),
                                        role_field=f"{pinot_field}.{role}", secret_env=secret_env, settings=settings,
                                        deep_store=cluster["deep_store"])
    if role == "controller":
        # Blame the profile when there is one: that is where a group's storage is usually given.
        _validate_controller_storage(settings, properties, settings_field)
    given_jvm_opts = isinstance(raw.get("pinot"), dict) and raw["pinot"].get("jvm_opts") is not None
    metrics = _group_metrics(raw, field, role, settings=settings, jvm_opts=jvm_opts, profiles_field=profiles_field,
                             jvm_field=_path(field, "pinot.jvm_opts") if given_jvm_opts
                             else f"{pinot_field}.{role}.jvm_opts")
    tags = raw.get("tags")
    if tags is not None:
        _type(tags, list, _path(field, "tags"))
        tags = _tags(tags, role, _path(field, "tags"))
    pool = raw.get("pool")
    if pool is not None:
        if role != "server":
            raise SpecError(_path(field, "pool"), "only server groups belong to instance pools")
        _type(pool, int, _path(field, "pool"))
        if pool < 0:
            raise SpecError(_path(field, "pool"), "must be 0 or more")
    return {
        "name": name, "role": role, "replicas": replicas, "zones": zones, "image": image, "profile": profile,
        "settings": settings, "properties": properties, "jvm_opts": jvm_opts, "tags": tags, "pool": pool,
        "secret_env": secret_env, "metrics": metrics,
    }


def _group_name(name, field, cluster, taken):
    """A group name, unique and short enough to prefix the StatefulSet's object names and pod labels."""
    _dns_label(name, field)
    if name in taken:
        raise SpecError(field, f"duplicate node group name {name!r}")
    if cluster["zookeeper"]["managed"] and name == ZOOKEEPER:
        raise SpecError(field, f"'{ZOOKEEPER}' is reserved for the managed ZooKeeper")
    if len(sts_name(cluster["name"], name)) > MAX_STS_NAME:
        raise SpecError(field, f"'{sts_name(cluster['name'], name)}' is longer than {MAX_STS_NAME} characters "
                        "(StatefulSet pod labels are limited to 63)")
    return name


def _zones(group, field):
    """The zones of a group, from `zone` (one) or `zones` (a list); empty when it gives neither."""
    single = group.get("zone") is not None
    if single and group.get("zones") is not None:
        raise SpecError(_path(field, "zones"), "give either 'zone' or 'zones', not both")
    zones_field = _path(field, "zone" if single else "zones")
    zones = [group["zone"]] if single else _type(group.get("zones") or [], list, zones_field)
    for index, zone in enumerate(zones):
        if not isinstance(zone, str) or not zone or not LABEL_VALUE.match(zone) or len(zone) > 63:
            raise SpecError(zones_field if single else _path(zones_field, index),
                            f"{zone!r} is not a valid {ZONE_LABEL} label value")
    if len(set(zones)) != len(zones):
        raise SpecError(zones_field, "lists a zone twice")
    return list(zones)


def _group_settings(group, field, profiles):
    """`(profile name, settings)`: the group's overrides merged over its profile."""
    name = group.get("profile")
    if name is not None and (not isinstance(name, str) or name not in profiles):
        raise SpecError(_path(field, "profile"),
                        f"unknown profile {name!r}; defined: {', '.join(sorted(profiles)) or 'none'}")
    overrides = _profile(group.get("overrides") or {}, _path(field, "overrides"))
    return name, deep_merge(profiles.get(name, {}), overrides)


def _group_pinot(raw, field, role, *, role_raw, role_field, secret_env, settings, deep_store):
    """`(properties, jvm_opts)` of a group: the deep store's properties, then its role's, then its own `pinot`. The
    role's are checked again with each group because the environment variables they may refer to come from the
    group's profile env."""
    secret_env_names = {item["name"] for item in secret_env}
    env_names = set((settings.get("env") or {}).keys())
    role_config = _pinot_config(role_raw or {}, role_field, role, secret_env_names, env_names)
    group_config = _pinot_config(raw or {}, field, role, secret_env_names, env_names)
    stored = deep_store_properties(deep_store, role)
    properties = dict(stored)
    for config, config_field in ((role_config, role_field), (group_config, field)):
        for key, value in config.get("properties", {}).items():
            if stored.get(key, value) != value:
                raise SpecError(f"{config_field}.properties[{key}]", "is set by cluster.deep_store: change it there "
                                "(or describe the deep store with properties alone, without deep_store)")
            properties[key] = value
    return properties, group_config.get("jvm_opts", role_config.get("jvm_opts", ""))


def _validate_controller_storage(settings, properties, field):
    """Uploaded segments must outlive the controller pod: on a volume or in a deep store."""
    if not (settings.get("storage") or {}).get("size") \
            and not DEEP_STORE.match(properties.get("controller.data.dir", "")):
        raise SpecError(field, (
            "a controller keeps every uploaded segment in controller.data.dir; without storage.size that is "
            "an emptyDir, lost with the pod. Give the profile (or overrides) storage.size, or set "
            "pinot.controller.properties[controller.data.dir] to a deep store URI (s3://, gs://, hdfs://, ...)"))


def _validate_controllers_share_segments(groups, field):
    """Several controllers need a deep store: a segment is kept in the controller.data.dir of the controller that
    received it (upload or realtime commit) and its download URL names that controller, so on local disks each
    controller holds and serves only its own share, and a segment is gone with its controller's volume."""
    controllers = [(index, g) for index, g in enumerate(groups) if g["role"] == "controller"]
    # An HPA-managed group (replicas left out) counts as one: at least one controller runs.
    count = sum(1 if group["replicas"] is None else group["replicas"] for _index, group in controllers)
    if count < 2:
        return
    for index, group in controllers:
        if not DEEP_STORE.match(group["properties"].get("controller.data.dir", "")):
            raise SpecError(_path(_path(_path(field, "node_groups"), index), "replicas"), (
                f"{count} controllers in all, and this group's have no deep store: each controller keeps the "
                "segments uploaded or committed through it in its own controller.data.dir and serves them only from "
                "there (their download URLs name it), so servers cannot fetch such a segment while that controller "
                "is down, and it is lost with that controller's volume. Set cluster.deep_store (or "
                "controller.data.dir to a deep store URI for every controller group; see docs/storage.md), or run "
                "one controller"))


def _tags(tags, role, field):
    if role == "controller":
        raise SpecError(field, "controllers have no Pinot instance tags")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str) or not re.match(r"^[A-Za-z0-9_\-.]+$", tag):
            raise SpecError(_path(field, index), f"{tag!r} is not a valid Pinot tag")
        if role == "broker" and not tag.endswith(BROKER_TAG_SUFFIX):
            raise SpecError(_path(field, index), f"broker tags end with {BROKER_TAG_SUFFIX} "
                            f"(e.g. {tag}{BROKER_TAG_SUFFIX})")
        if role == "server" and not tag.endswith(SERVER_TAG_SUFFIXES):
            raise SpecError(_path(field, index), f"server tags end with {' or '.join(SERVER_TAG_SUFFIXES)}")
    if len(set(tags)) != len(tags):
        raise SpecError(field, "lists a tag twice")
    return list(tags)


def _deployment_order(order, present, field):
    """The roles that have node groups, in the order they are rolled out."""
    if order is None:
        order = DEFAULT_ORDER
    else:
        _type(order, list, field)
        for index, role in enumerate(order):
            if role not in ROLES:
                raise SpecError(_path(field, index), f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if len(set(order)) != len(order):
            raise SpecError(field, "lists a role twice")
        missing = [role for role in present if role not in order]
        if missing:
            raise SpecError(field, f"must list every role that has node groups; missing: {', '.join(missing)}")
    return [role for role in order if role in present]


def _validate_services(groups, field):
    """The client Service of a role spans its groups: their profiles must agree on its settings."""
    chosen = {}
    for index, group in enumerate(groups):
        service = group["settings"].get("service") or {}
        role = group["role"]
        if role in chosen and chosen[role][1] != service:
            raise SpecError(f"{field}.node_groups[{index}].profile",
                            f"the {role} client Service spans all {role} groups, but this group's 'service' "
                            f"settings differ from those of group {chosen[role][0]!r}")
        chosen.setdefault(role, (group["name"], service))


def select_groups(cluster: Cluster, names: list[str] | None, field: str = "node_groups") -> list[NodeGroup]:
    """The described groups named in `names` (all when None); unknown names are errors. With a managed ZooKeeper
    the name `zookeeper` is known too (it selects the ensemble, which is not a node group)."""
    if names is None:
        return list(cluster["node_groups"])
    known = {g["name"] for g in cluster["node_groups"]}
    if cluster["zookeeper"]["managed"]:
        known.add(ZOOKEEPER)
    for index, name in enumerate(names):
        if name not in known:
            raise SpecError(f"{field}[{index}]", f"{name!r} is not a node group of the description; "
                            f"described: {', '.join(sorted(known))}")
    return [g for g in cluster["node_groups"] if g["name"] in names]


def validate_partitions(cluster, partitions, field="partitions"):
    """`{group: N}` with N >= 0 for described groups; N above replicas is allowed (holds every pod)."""
    known = {g["name"] for g in cluster["node_groups"]}
    result = {}
    for name, value in (partitions or {}).items():
        if name not in known:
            raise SpecError(f"{field}.{name}", "is not a node group of the description")
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(f"{field}.{name}", f"must be an integer of 0 or more, not {value!r}")
        result[name] = value
    return result


def without_unset(value: Any, options: dict[str, Any] | None) -> Any:
    """`value` (a parameter Ansible validated against suboption spec `options`) without the None that Ansible
    gives every suboption left out, so that the description reads as written: its defaults stay here.

    Only keys of `options` go (a null given explicitly is the same as one left out); free-form mappings (no
    `options`: Pinot properties, profiles, overrides) and raw values are kept as they are, nulls included.
    """
    if options is None or not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        spec = options.get(key)
        if spec is None:
            result[key] = item
        elif item is not None:
            sub = spec.get("options")
            result[key] = [without_unset(element, sub) for element in item] if isinstance(item, list) \
                else without_unset(item, sub)
    return result
