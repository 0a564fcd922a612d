# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure renderers: a normalised cluster description (spec.normalise_cluster) -> Kubernetes manifests.

Nothing here talks to a cluster, so unit tests call these functions directly. The manifests hold only the
fields pinotops declares (server-side apply owns exactly those); server defaults are left to the apiserver.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.shapes import Cluster, NodeGroup
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import (
    DEEP_STORE,
    K8S_ENV_REFERENCE,
    deep_merge,
    scrape_annotations,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    ANNOTATION_POOL,
    ANNOTATION_TAGS,
    HEALTH,
    LABEL_COMPONENT,
    LABEL_GROUP,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_PART_OF,
    LABEL_VERSION,
    MANAGED_BY,
    ROLE_PORTS,
    ZONE_LABEL,
    ZOOKEEPER,
    ZOOKEEPER_PORTS,
    client_service_name,
    config_map_name,
    headless_service_name,
    image_tag,
    pod_name,
    sts_name,
)

# The ports of each role's pods and of its client Service, as (name, number).
PORTS = {role: [(name, port) for name, port, _prop, _client in ports] for role, ports in ROLE_PORTS.items()}
CLIENT_PORTS = {role: [(name, port) for name, port, _prop, client in ports if client]
                for role, ports in ROLE_PORTS.items()}
PROBE_TIMING = {
    # Segment loading can take long: the startup probe allows 10 minutes before liveness starts counting.
    "startup": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 60},
    "readiness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
    "liveness": {"periodSeconds": 10, "timeoutSeconds": 10, "failureThreshold": 6},
}
START_COMMAND = {"controller": "StartController", "broker": "StartBroker", "server": "StartServer",
                 "minion": "StartMinion"}
# Pinot's own graceful stop fits in these: a broker keeps answering 10 s after SIGTERM (delayShutdownTimeMs) while
# Kubernetes takes it out of its Service; a server leaves routing, then drains queries (shutdown.timeoutMs 600 s).
DEFAULT_GRACE = {"controller": 60, "broker": 60, "server": 630, "minion": 60, ZOOKEEPER: 60}
# A restarted pod keeps its DNS name but gets a new IP. The JVM caches lookups for 30 s by default, so a broker
# (or a server committing to the controller) would connect to the old IP and hang until the connect timeout:
# measured as 22.5 s of failed queries after each server restart. The description's jvm_opts come later and win.
JVM_DEFAULTS = "-Dsun.net.inetaddr.ttl=0 -Dsun.net.inetaddr.negative.ttl=0"
# A restarted server joins query routing only once its consuming segments are fresh (the last event read is under
# realtimeMinFreshnessMs, 10 s, old, or the stream has nothing newer), waiting at most two minutes for it; Pinot's
# default starts serving at once, with consuming segments that answer rows behind the other replica.
SERVER_DEFAULTS = {"pinot.server.starter.enableRealtimeFreshnessBasedConsumptionStatusChecker": "true",
                   "pinot.server.starter.realtimeConsumptionCatchupWaitMs": "120000"}
# A broker stops routing to a server whose connection fails, instead of until Helix reports it gone: with Pinot's
# default (NO_OP), 48 of 140 queries failed over 25 s after one server of two was killed; with this, 1 of 137.
BROKER_DEFAULTS = {"pinot.broker.failure.detector.type": "CONNECTION"}
KIND_ORDER = {"ConfigMap": 0, "Service": 1, "PodDisruptionBudget": 2, "StatefulSet": 3, "ServiceMonitor": 4}
# The Prometheus Operator's custom resource (its CRD must be installed) for a group with metrics.service_monitor.
SERVICE_MONITOR_API = "monitoring.coreos.com/v1"
METRICS_PORT_NAME = "metrics"


def config_dir(role: str) -> str:
    return f"/var/pinot/{role}/config"


def data_dir(role: str) -> str:
    return f"/var/pinot/{role}/data"


def conf_file(role: str) -> str:
    return f"pinot-{role}.conf"


def zookeeper_hosts(cluster: Cluster) -> list[str]:
    """Each member of the managed ensemble by its stable name under the headless Service."""
    name = sts_name(cluster["name"], ZOOKEEPER)
    return [f"{pod_name(name, i)}.{headless_service_name(name)}"
            for i in range(cluster["zookeeper"]["managed"]["replicas"])]


def zookeeper_address(cluster: Cluster) -> str:
    """Every member by name, not the client Service: a ZooKeeper client fails over only between the hosts it is
    given, and a reconnect through one ClusterIP can land on a lost member and time out the session."""
    if cluster["zookeeper"]["address"]:
        return cluster["zookeeper"]["address"]
    return ",".join(f"{host}:{ZOOKEEPER_PORTS['client']}" for host in zookeeper_hosts(cluster))


def version_of(image: str) -> str | None:
    """The image tag as a label value (`apachepinot/pinot:1.4.0` -> `1.4.0`); None if it has none."""
    tag = image_tag(image)
    if tag is None:
        return None
    tag = re.sub(r"[^A-Za-z0-9._-]", "", tag)[:63]
    tag = tag.strip("._-")
    return tag or None


def instance_labels(cluster: Mapping[str, Any]) -> dict[str, str]:
    """Labels every object of the cluster carries; used to find them for pruning and `state: absent`. Only the
    cluster's name is read (pinot_cluster_info knows no more)."""
    return {LABEL_NAME: "pinot", LABEL_INSTANCE: cluster["name"], LABEL_MANAGED_BY: MANAGED_BY}


def selector_labels(cluster: Cluster, component: str, group_name: str | None = None) -> dict[str, str]:
    """Immutable labels only: never the version (selectors cannot change)."""
    labels = {LABEL_NAME: "pinot", LABEL_INSTANCE: cluster["name"], LABEL_COMPONENT: component}
    if group_name:
        labels[LABEL_GROUP] = group_name
    return labels


def object_labels(cluster: Cluster, component: str, group_name: str | None = None,
                  image: str | None = None) -> dict[str, str]:
    labels = selector_labels(cluster, component, group_name)
    labels[LABEL_MANAGED_BY] = MANAGED_BY
    labels[LABEL_PART_OF] = "pinot"
    version = version_of(image) if image else None
    if version:
        labels[LABEL_VERSION] = version
    return labels


def _meta(cluster, name, labels, annotations=None):
    meta = {"name": name, "namespace": cluster["namespace"], "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def render_properties(cluster: Cluster, group: NodeGroup) -> dict[str, Any]:
    """The role's .conf as an ordered {key: value}: pinotops' defaults, the user's properties, then the managed
    keys (ports, ZooKeeper, cluster name, instance id from hostname) which the description cannot override."""
    role = group["role"]
    zk = zookeeper_address(cluster)
    defaults = {
        "controller": {"controller.data.dir": data_dir("controller")},
        "broker": dict(BROKER_DEFAULTS),
        "server": {"pinot.server.instance.dataDir": f"{data_dir('server')}/index",
                   "pinot.server.instance.segmentTarDir": f"{data_dir('server')}/segment", **SERVER_DEFAULTS},
        "minion": {"dataDir": data_dir("minion")},
    }[role]
    managed = {"pinot.set.instance.id.to.hostname": "true"}
    managed.update({prop: str(port) for _name, port, prop, _client in ROLE_PORTS[role]})
    if role == "controller":
        managed.update({"controller.zk.str": zk, "controller.helix.cluster.name": cluster["helix_cluster_name"]})
    elif role == "broker" and group["tags"]:
        # Initial tags of a broker joining for the first time (Pinot ignores it once the broker has tags).
        defaults["pinot.broker.instance.tags"] = ",".join(group["tags"])
    result = dict(defaults)
    result.update(group["properties"])
    if role == "controller" and DEEP_STORE.match(str(result["controller.data.dir"])):
        # A controller refuses to start with a remote data dir and no local directory for uploads in progress.
        result.setdefault("controller.local.temp.dir", f"{data_dir('controller')}/upload")
    result.update(managed)
    return dict(sorted(result.items()))


def render_conf(properties: dict[str, Any], group_name: str) -> str:
    lines = [f"# Rendered by pinotops.k8s for node group {group_name}; edit the cluster description instead."]
    lines.extend(f"{key}={_escape(value)}" for key, value in properties.items())
    return "\n".join(lines) + "\n"


def _escape(value):
    """Java .properties escaping for values (backslashes; leading blanks)."""
    value = value.replace("\\", "\\\\")
    if value[:1] in (" ", "\t"):
        value = "\\" + value
    return value


def _probe(role, name, settings):
    path, port = HEALTH[role][name]
    probe = {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}}
    probe.update(PROBE_TIMING[name])
    override = (settings.get("probes") or {}).get(name) or {}
    return deep_merge(probe, override)


def _affinity(settings, zones):
    affinity = copy.deepcopy(settings.get("affinity") or {})
    if zones:
        requirement = {"key": ZONE_LABEL, "operator": "In", "values": sorted(zones)}
        node = affinity.setdefault("nodeAffinity", {})
        required = node.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
        terms = required.get("nodeSelectorTerms") or [{}]
        # Terms are ORed, expressions inside a term ANDed: the zone requirement goes into every term.
        required["nodeSelectorTerms"] = [
            dict(term, matchExpressions=list(term.get("matchExpressions") or []) + [requirement]) for term in terms
        ]
    return affinity or None


def _topology_spread(settings, zones, selector):
    constraints = []
    for item in settings.get("topology_spread") or []:
        item = copy.deepcopy(item)
        item.setdefault("maxSkew", 1)
        item.setdefault("whenUnsatisfiable", "DoNotSchedule")
        item.setdefault("labelSelector", {"matchLabels": dict(selector)})
        constraints.append(item)
    if len(zones) > 1 and not any(c.get("topologyKey") == ZONE_LABEL for c in constraints):
        constraints.append({"maxSkew": 1, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": dict(selector)}})
    return constraints


def _pod_metadata(settings, labels, annotations=None):
    """The pod template's labels and annotations: the profile's, with pinotops' own (`annotations`: those of the
    metrics endpoint, which spec.py has checked the profile's do not contradict)."""
    meta = {"labels": {**(settings.get("pod_labels") or {}), **labels}}
    merged = {**(settings.get("pod_annotations") or {}), **(annotations or {})}
    if merged:
        meta["annotations"] = merged
    return meta


def _pod_spec_common(cluster, settings, component, container, *, zones, selector, volumes):
    spec = {"containers": [container]}
    if volumes:
        spec["volumes"] = volumes
    affinity = _affinity(settings, zones)
    if affinity:
        spec["affinity"] = affinity
    spread = _topology_spread(settings, zones, selector)
    if spread:
        spec["topologySpreadConstraints"] = spread
    if settings.get("node_selector"):
        spec["nodeSelector"] = dict(settings["node_selector"])
    if settings.get("tolerations"):
        spec["tolerations"] = copy.deepcopy(settings["tolerations"])
    grace = settings.get("termination_grace_period_seconds")
    spec["terminationGracePeriodSeconds"] = DEFAULT_GRACE[component] if grace is None else grace
    if settings.get("pod_security_context"):
        spec["securityContext"] = copy.deepcopy(settings["pod_security_context"])
    if settings.get("service_account"):
        spec["serviceAccountName"] = settings["service_account"]
    if settings.get("priority_class_name"):
        spec["priorityClassName"] = settings["priority_class_name"]
    if cluster["image_pull_secrets"]:
        spec["imagePullSecrets"] = [{"name": name} for name in cluster["image_pull_secrets"]]
    return spec


def _container_common(settings, container):
    if settings.get("image_pull_policy"):
        container["imagePullPolicy"] = settings["image_pull_policy"]
    if settings.get("resources"):
        container["resources"] = copy.deepcopy(settings["resources"])
    if settings.get("security_context"):
        container["securityContext"] = copy.deepcopy(settings["security_context"])
    return container


def _storage(settings, selector, mount_path):
    """(volumes, volumeMounts, volumeClaimTemplates) for the data directory: a PVC when the profile gives
    storage.size, else an emptyDir."""
    storage = settings.get("storage") or {}
    mounts = [{"name": "data", "mountPath": mount_path}]
    if not storage.get("size"):
        return [{"name": "data", "emptyDir": {}}], mounts, []
    claim_spec = {"accessModes": list(storage.get("access_modes") or ["ReadWriteOnce"]),
                  "resources": {"requests": {"storage": storage["size"]}}}
    if storage.get("class"):
        claim_spec["storageClassName"] = storage["class"]
    template = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "labels": dict(selector, **{LABEL_MANAGED_BY: MANAGED_BY})},
                "spec": claim_spec}
    return [], mounts, [template]


def _user_volumes(settings):
    """(volumes, volumeMounts) of the profile's Secrets and ConfigMaps."""
    volumes, mounts = [], []
    for volume in settings.get("volumes") or []:
        if volume.get("secret") is not None:
            kind, source = "secret", {"secretName": volume["secret"]}
        else:
            kind, source = "configMap", {"name": volume["config_map"]}
        if volume.get("items"):
            source["items"] = [{"key": item["key"], "path": item["path"]} for item in volume["items"]]
        if volume.get("optional"):
            source["optional"] = True
        volumes.append({"name": volume["name"], kind: source})
        mounts.append({"name": volume["name"], "mountPath": volume["mount_path"],
                       "readOnly": volume.get("read_only") is not False})
    return volumes, mounts


def _env(group, settings):
    java = {"name": "JAVA_OPTS", "value": java_opts(group)}
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    for item in group["secret_env"]:
        ref = {"name": item["secret"], "key": item["key"]}
        if item["optional"]:
            ref["optional"] = True
        env.append({"name": item["name"], "valueFrom": {"secretKeyRef": ref}})
    for name, value in sorted((settings.get("env") or {}).items()):
        env.append({"name": name, "value": value})
    # Kubernetes expands $(NAME) only from variables listed earlier; without references JAVA_OPTS stays first,
    # so the pods of existing clusters do not roll for a reordered env.
    return env + [java] if K8S_ENV_REFERENCE.search(java["value"]) else [java] + env


def java_opts(group: NodeGroup) -> str:
    role = group["role"]
    parts = [JVM_DEFAULTS, metrics_agent(group.get("metrics")), group["jvm_opts"],
             f"-Dlog4j2.configurationFile=/opt/pinot/etc/conf/pinot-{role}-log4j2.xml",
             "-Dplugins.dir=/opt/pinot/plugins"]
    return " ".join(part for part in parts if part)


def metrics_agent(metrics: dict[str, Any] | None) -> str:
    """The JVM option that starts the Prometheus JMX exporter's agent on the metrics port ("" without metrics)."""
    if not metrics:
        return ""
    return f"-javaagent:{metrics['jar']}={metrics['port']}:{metrics['config']}"


def render_service_monitor(cluster: Cluster, group: NodeGroup, labels: dict[str, str]) -> dict[str, Any]:
    """The Prometheus Operator's ServiceMonitor of a group with metrics.service_monitor: it selects the group's
    headless Service (the role's client Service has no group label and no metrics port), whose endpoints list
    every pod of the group, ready or not, and scrapes their metrics port."""
    metrics = group["metrics"]
    name = sts_name(cluster["name"], group["name"])
    return {"apiVersion": SERVICE_MONITOR_API, "kind": "ServiceMonitor",
            "metadata": _meta(cluster, name, {**metrics["service_monitor_labels"], **labels}),
            "spec": {"selector": {"matchLabels": selector_labels(cluster, group["role"], group["name"])},
                     "endpoints": [{"port": METRICS_PORT_NAME, "path": metrics["path"]}]}}


def update_strategy(partition: int | None = None) -> dict[str, Any]:
    """RollingUpdate with an explicit partition (0 unless one holds pods back). Without `rollingUpdate` the
    StatefulSet controller recreates a pod it just deleted from its status' count of current pods, which may be
    stale: the pod comes back on the old revision and is replaced a second time."""
    return {"type": "RollingUpdate", "rollingUpdate": {"partition": partition or 0}}


def render_group(cluster: Cluster, group: NodeGroup, partition: int | None = None) -> list[dict[str, Any]]:
    """ConfigMap, headless Service, PodDisruptionBudget and StatefulSet of one Pinot node group, and its
    ServiceMonitor when its metrics ask for one."""
    role = group["role"]
    name = sts_name(cluster["name"], group["name"])
    settings = group["settings"]
    metrics = group.get("metrics")
    own_ports = list(PORTS[role]) + ([(METRICS_PORT_NAME, metrics["port"])] if metrics else [])
    selector = selector_labels(cluster, role, group["name"])
    labels = object_labels(cluster, role, group["name"], group["image"])
    properties = render_properties(cluster, group)
    data = {conf_file(role): render_conf(properties, group["name"])}
    config_name = config_map_name(name, data)
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(cluster, config_name, labels),
                 "data": data}
    ports = [{"name": pname, "port": port, "targetPort": port, "protocol": "TCP"} for pname, port in own_ports]
    headless = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(cluster, headless_service_name(name), labels),
                "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": dict(selector),
                         "ports": ports}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(cluster, name, labels),
           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}}}

    args = [START_COMMAND[role]]
    if role != "controller":  # the controller reads cluster name and ZooKeeper from its .conf
        args += ["-clusterName", cluster["helix_cluster_name"], "-zkAddress", zookeeper_address(cluster)]
    args += ["-configFileName", f"{config_dir(role)}/{conf_file(role)}"]
    volumes, mounts, claims = _storage(settings, selector, data_dir(role))
    extra_volumes, extra_mounts = _user_volumes(settings)
    container = {
        "name": "pinot",
        "image": group["image"],
        "args": args,
        "env": _env(group, settings),
        "ports": [{"name": pname, "containerPort": port, "protocol": "TCP"} for pname, port in own_ports],
        "volumeMounts": [{"name": "config", "mountPath": config_dir(role), "readOnly": True}] + mounts + extra_mounts,
        "startupProbe": _probe(role, "startup", settings),
        "readinessProbe": _probe(role, "readiness", settings),
        "livenessProbe": _probe(role, "liveness", settings),
    }
    _container_common(settings, container)
    volumes = [{"name": "config", "configMap": {"name": config_name}}] + volumes + extra_volumes
    scrape = scrape_annotations(metrics) if metrics and not metrics["service_monitor"] else None
    template = {"metadata": _pod_metadata(settings, labels, scrape),
                "spec": _pod_spec_common(cluster, settings, role, container, zones=group["zones"], selector=selector,
                                         volumes=volumes)}
    spec = {}
    if group["replicas"] is not None:
        spec["replicas"] = group["replicas"]
    spec.update({
        "serviceName": headless_service_name(name),
        "selector": {"matchLabels": dict(selector)},
        "podManagementPolicy": settings.get("pod_management_policy") or "OrderedReady",
        "updateStrategy": update_strategy(partition),
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "template": template,
    })
    if claims:
        spec["volumeClaimTemplates"] = claims
    annotations = {}
    if group["tags"] is not None:
        annotations[ANNOTATION_TAGS] = ",".join(group["tags"])
    if group["pool"] is not None:
        annotations[ANNOTATION_POOL] = str(group["pool"])
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(cluster, name, labels, annotations),
           "spec": spec}
    if metrics and metrics["service_monitor"]:
        return [configmap, headless, pdb, sts, render_service_monitor(cluster, group, labels)]
    return [configmap, headless, pdb, sts]


def render_client_service(cluster: Cluster, role: str) -> dict[str, Any]:
    """One Service per role, spanning all node groups of the role (selector without the group label)."""
    groups = [g for g in cluster["node_groups"] if g["role"] == role]
    service = groups[0]["settings"].get("service") or {}
    labels = object_labels(cluster, role)
    labels.update(service.get("labels") or {})
    spec = {"type": service.get("type") or "ClusterIP", "selector": selector_labels(cluster, role),
            "ports": [{"name": pname, "port": port, "targetPort": port, "protocol": "TCP"}
                      for pname, port in CLIENT_PORTS[role]]}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta(cluster, client_service_name(cluster["name"], role), labels,
                              dict(service.get("annotations") or {})),
            "spec": spec}


def cluster_zones(cluster: Cluster) -> list[str]:
    """Every zone a node group is in: the managed ZooKeeper spreads over them, so a zone's loss keeps a quorum."""
    return sorted({zone for group in cluster["node_groups"] for zone in group["zones"]})


def render_zookeeper(cluster: Cluster) -> list[dict[str, Any]]:
    """A managed ZooKeeper ensemble (official `zookeeper` image) as StatefulSet + Services + PDB."""
    managed = cluster["zookeeper"]["managed"]
    if not managed:
        return []
    name = sts_name(cluster["name"], ZOOKEEPER)
    settings = cluster["profiles"].get(managed["profile"], {}) if managed["profile"] else {}
    settings = dict(settings, storage={"size": managed["storage"]["size"], "class": managed["storage"]["class"]})
    selector = selector_labels(cluster, ZOOKEEPER, ZOOKEEPER)
    labels = object_labels(cluster, ZOOKEEPER, ZOOKEEPER, managed["image"])
    ports = list(ZOOKEEPER_PORTS.items())
    service_ports = [{"name": pname, "port": port, "targetPort": port, "protocol": "TCP"} for pname, port in ports]
    headless = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(cluster, headless_service_name(name), labels),
                "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": dict(selector),
                         "ports": service_ports}}
    client = {"apiVersion": "v1", "kind": "Service",
              "metadata": _meta(cluster, client_service_name(cluster["name"], ZOOKEEPER), labels),
              "spec": {"type": "ClusterIP", "selector": dict(selector), "ports": service_ports[:1]}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(cluster, name, labels),
           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}}}
    servers = " ".join(f"server.{i}={host}:{ZOOKEEPER_PORTS['follower']}:{ZOOKEEPER_PORTS['election']};"
                       f"{ZOOKEEPER_PORTS['client']}" for i, host in enumerate(zookeeper_hosts(cluster), 1))
    volumes, mounts, claims = _storage(settings, selector, "/data")
    tcp = {"tcpSocket": {"port": ZOOKEEPER_PORTS["client"]}}
    container = {
        "name": ZOOKEEPER,
        "image": managed["image"],
        # The official image takes its id from ZOO_MY_ID: derive it from the StatefulSet ordinal.
        "command": ["/bin/bash", "-c",
                    'export ZOO_MY_ID=$((${HOSTNAME##*-}+1)); exec /docker-entrypoint.sh zkServer.sh start-foreground'],
        "env": [{"name": "ZOO_SERVERS", "value": servers},
                {"name": "ZOO_DATA_LOG_DIR", "value": "/data/log"},
                {"name": "ZOO_4LW_COMMANDS_WHITELIST", "value": "srvr,ruok,mntr"}],
        "ports": [{"name": pname, "containerPort": port, "protocol": "TCP"} for pname, port in ports],
        "volumeMounts": mounts,
        "readinessProbe": dict(tcp, **PROBE_TIMING["readiness"]),
        "livenessProbe": dict(tcp, **PROBE_TIMING["liveness"]),
    }
    _container_common(settings, container)
    template = {"metadata": _pod_metadata(settings, labels),
                "spec": _pod_spec_common(cluster, settings, ZOOKEEPER, container, zones=cluster_zones(cluster),
                                         selector=selector, volumes=volumes)}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(cluster, name, labels), "spec": {
        "replicas": managed["replicas"], "serviceName": headless_service_name(name),
        "selector": {"matchLabels": dict(selector)}, "podManagementPolicy": "Parallel",
        "updateStrategy": update_strategy(),
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "template": template, "volumeClaimTemplates": claims}}
    return [headless, client, pdb, sts]


def render_cluster(cluster: Cluster, groups: list[NodeGroup] | None = None,
                   partitions: dict[str, int] | None = None,
                   zookeeper: bool | None = None) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every manifest, in apply order, as [(stage, [manifests])]: the managed ZooKeeper first (by default on full
    runs only), then one stage per role in `deployment_order`: ConfigMaps, Services, PDBs, then StatefulSets."""
    partitions = partitions or {}
    selected = cluster["node_groups"] if groups is None else groups
    if zookeeper is None:
        zookeeper = groups is None
    stages = []
    if zookeeper and cluster["zookeeper"]["managed"]:
        stages.append((ZOOKEEPER, render_zookeeper(cluster)))
    for role in cluster["deployment_order"]:
        role_groups = [g for g in selected if g["role"] == role]
        if not role_groups:
            continue
        manifests = [render_client_service(cluster, role)]
        for group in role_groups:
            manifests.extend(render_group(cluster, group, partitions.get(group["name"])))
        manifests.sort(key=lambda m: KIND_ORDER[m["kind"]])  # stable: groups keep their order inside a kind
        stages.append((role, manifests))
    return stages
