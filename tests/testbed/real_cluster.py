"""A Pinot cluster in pods on the test bed's real node: its bed, description and inventory, and how to query it.

Shared by the real-node install test and `make demo`. A control plane of its own with the real node
(real_node.py), the Pinot images of the versions asked for and ZooKeeper imported into its containerd, and a
Kafka broker on the node's address (pods reach it there, not the host's loopback). The description is
heterogeneous and small: a managed ZooKeeper, a controller, two brokers, two server groups and a minion. Ansible
and the queries reach the controller and the broker through their client Services (kube-proxy on the host).

`real_cluster_bed(..., zones=("zone-a", "zone-b", "zone-c"))` puts the same on a real node per zone
(real_node.control_plane_with_zone_nodes); `zone_groups()` writes node groups pinned one per zone (the
description's `zone:` renders a nodeAffinity on topology.kubernetes.io/zone; the profiles' node selector keeps
them off the kwok nodes of the same zones).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.polling import wait_until
from tests.support.tables import ingest_csv
from tests.testbed import images, plays
from tests.testbed.k8s import K8sControlPlane
from tests.testbed.pinot import PinotCluster
from tests.testbed.real_node import NODE_IP, NODE_LABEL, RealNode, control_plane_with_zone_nodes

HOST = "real"
FROM_VERSION, TO_VERSION = "1.4.0", "1.5.1"  # installed, then upgraded to
OFFLINE = "rides"
REALTIME = "clicks"
# The in-cluster controller of this very cluster, through its Service, as soon as pinot_cluster has reported it.
CONTROLLER_FROM_MODULE = ("http://{{ pinot_cluster_applied.services.controller.cluster_ip }}:"
                          "{{ pinot_cluster_applied.services.controller.ports.http }}")


def description(image: str, namespace: str) -> dict[str, Any]:
    placed = {"node_selector": {NODE_LABEL: "true"}, "image_pull_policy": "Never"}
    small = dict(placed, resources={"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "768Mi"}},
                 storage={"size": "1Gi"})
    return {
        "name": "pinot", "namespace": namespace, "image": image,
        "zookeeper": {"managed": {"replicas": 1, "storage": {"size": "1Gi"}, "profile": "zk"}},
        "pinot": {
            "controller": {"jvm_opts": "-Xms128m -Xmx384m"},
            "broker": {"jvm_opts": "-Xms128m -Xmx256m"},
            "server": {"jvm_opts": "-Xms128m -Xmx384m"},
            "minion": {"jvm_opts": "-Xms64m -Xmx192m"},
        },
        "profiles": {"zk": placed, "small": small},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 1, "profile": "small"},
            # Two brokers: queries go on through the broker Service while one restarts.
            {"name": "broker", "role": "broker", "replicas": 2, "profile": "small"},
            {"name": "server-a", "role": "server", "replicas": 1, "profile": "small"},
            {"name": "server-b", "role": "server", "replicas": 1, "profile": "small",
             "pinot": {"properties": {"pinot.server.query.executor.timeout": 20000}}},
            {"name": "minion", "role": "minion", "replicas": 1, "profile": "small"},
        ],
    }


def zone_groups(name: str, role: str, zones: Sequence[str], **keys: Any) -> list[dict[str, Any]]:
    """A node group of one replica per zone, named `<name>-<zone without "zone-">`, e.g.
    zone_groups("server", "server", ZONES, profile="small") -> server-a in zone-a, server-b in zone-b, ..."""
    return [{"name": f"{name}-{zone.removeprefix('zone-')}", "role": role, "replicas": 1, "zone": zone, **keys}
            for zone in zones]


def resources(kafka: PinotCluster, topic: str) -> dict[str, Any]:
    """An OFFLINE table (replication 2) for batch rows and a REALTIME one on `topic`; one cluster config."""
    time_spec = [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]
    schemas = [
        {"schemaName": OFFLINE, "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"},
                                                        {"name": "city", "dataType": "STRING"}],
         "metricFieldSpecs": [{"name": "fare", "dataType": "INT"}]},
        {"schemaName": REALTIME, "dimensionFieldSpecs": [{"name": "user", "dataType": "STRING"}],
         "dateTimeFieldSpecs": time_spec},
    ]
    tables = [
        {"tableName": OFFLINE, "tableType": "OFFLINE", "segmentsConfig": {"replication": "2"},
         "tenants": {}, "tableIndexConfig": {}, "metadata": {}},
        {"tableName": REALTIME, "tableType": "REALTIME",
         "segmentsConfig": {"timeColumnName": "ts", "replicasPerPartition": "2"}, "tenants": {},
         "tableIndexConfig": {"streamConfigs": {
             "streamType": "kafka", "stream.kafka.topic.name": topic,
             "stream.kafka.broker.list": kafka.kafka_bootstrap,
             "stream.kafka.consumer.factory.class.name": kafka.kafka_consumer_factory,
             "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
             "stream.kafka.consumer.prop.auto.offset.reset": "smallest"}},
         "metadata": {}},
    ]
    return {"pinot_cluster_schemas": schemas, "pinot_cluster_tables": tables,
            "pinot_cluster_configs": {"cluster.tenant.isolation.enable": True}}


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ready_at(pod: dict[str, Any]) -> datetime | None:
    """When the pod last became Ready; None while it is not."""
    for cond in pod["status"].get("conditions", []):
        if cond["type"] == "Ready" and cond["status"] == "True":
            return timestamp(cond["lastTransitionTime"])
    return None


@dataclass
class RealCluster:
    cp: K8sControlPlane
    node: RealNode
    kafka: PinotCluster
    namespace: str
    inventory: Path
    topic: str
    timings: dict[str, float]
    urls: dict[str, str] = field(default_factory=dict)

    def play(self, playbook: str = "site.yml", *args: str,
             echo: Callable[[str], None] | None = None) -> tuple[int, str, float]:
        return plays.run_playbook(playbook, self.inventory, *args, echo=echo)

    def pods(self) -> dict[str, dict[str, Any]]:
        return {p["metadata"]["name"]: p for p in plays.pods(self.cp, self.namespace)}

    def config_name(self, group: str) -> str:
        """The ConfigMap (named after its content) that a node group's StatefulSet mounts."""
        sts = self.cp.request("GET", f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/pinot-{group}")
        return next(v["configMap"]["name"] for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")

    def service_url(self, role: str) -> str:
        if role not in self.urls:  # a ClusterIP never changes: one read per Service
            service = self.cp.request("GET", f"/api/v1/namespaces/{self.namespace}/services/pinot-{role}")["spec"]
            self.urls[role] = f"http://{service['clusterIP']}:{service['ports'][0]['port']}"
        return self.urls[role]

    def controller(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, self.service_url("controller") + path, timeout=60, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response

    def sql(self, query: str) -> list[list[Any]]:
        response = requests.post(self.service_url("broker") + "/query/sql", json={"sql": query}, timeout=60)
        body = response.json()
        assert response.ok and not body.get("exceptions"), body
        return body["resultTable"]["rows"]

    def answer(self, query: str) -> list[list[Any]] | None:
        """The rows, or None while the broker answers with an exception: what a wait asks (a broker learns of a
        table a moment after it is created, BrokerResourceMissingError until then)."""
        try:
            return self.sql(query)
        except AssertionError:
            return None

    def pinot_versions(self) -> dict[str, str]:
        """The Pinot version each instance wrote into its Helix instance config when it started."""
        helix = self.controller("GET", "/cluster/info").json()["clusterName"]
        found = {}
        for instance in sorted(self.controller("GET", "/instances").json()["instances"]):
            record = self.controller("GET", "/zk/get", params={"path": f"/{helix}/CONFIGS/PARTICIPANT/{instance}"})
            found[instance] = json.loads(record.text).get("simpleFields", {}).get("pinotVersion", "not reported")
        return found

    def ingest_csv(self, table_with_type: str, header: str, rows: list[tuple[Any, ...]]) -> None:
        ingest_csv(self.service_url("controller"), table_with_type, header, rows)


@contextlib.contextmanager
def control_plane_with_node(base: Path) -> Iterator[tuple[K8sControlPlane, RealNode]]:
    """A control plane of its own with the real node; both stopped on exit."""
    cp = K8sControlPlane(base / "k8s", real_node=True)
    try:
        cp.start()
        node = RealNode(cp, base / "node")
        try:
            node.start()
            yield cp, node
        finally:
            node.stop()
    finally:
        cp.stop()


@contextlib.contextmanager
def real_cluster_bed(base: Path, versions: tuple[str, ...], namespace: str,
                     zones: Sequence[str] = ()) -> Iterator[RealCluster]:
    """Everything a cluster of `versions[0]` (and later upgrades to the others) needs on the real node, or on a
    real node per zone (`zones`; the images go into each).

    The inventory installs `versions[0]`; its controller URL comes from the module's report of the Services.
    """
    timings: dict[str, float] = {}
    began = time.monotonic()
    bed = control_plane_with_zone_nodes(base, zones) if zones else control_plane_with_node(base)
    with bed as (cp, node):
        timings["control plane + node"] = time.monotonic() - began
        t = time.monotonic()
        for ref, archive in images.build_all(versions).items():
            node.import_image(archive, ref)
        timings["images"] = time.monotonic() - t
        t = time.monotonic()
        with PinotCluster(versions[0], base / "kafka", pinot=False, kafka=True, kafka_host=NODE_IP) as kafka:
            topic = "clicks_" + secrets.token_hex(3)
            kafka.create_kafka_topic(topic)
            timings["kafka"] = time.monotonic() - t
            plays.ensure_namespace(cp, namespace)
            wait_until("the namespace's default ServiceAccount",
                       lambda: cp.get_or_none(f"/api/v1/namespaces/{namespace}/serviceaccounts/default"))
            inventory = write_inventory(base / "inventory", cp, description(f"apachepinot/pinot:{versions[0]}",
                                                                            namespace), resources(kafka, topic))
            yield RealCluster(cp, node, kafka, namespace, inventory, topic, timings)


def write_inventory(inventory: Path, cp: K8sControlPlane, cluster: dict[str, Any],
                    pinot_resources: dict[str, Any]) -> Path:
    (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"pinot_clusters": {"hosts": {HOST: None}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
    host_vars = {
        "pinot_kubeconfig": str(cp.kubeconfig), "pinot_cluster": cluster,
        "pinot_controller_url": CONTROLLER_FROM_MODULE,
        "pinot_cluster_wait_timeout": 300, "pinot_cluster_gate_timeout": 180,
        "pinot_upgrade_rollout_timeout": 300,
        **pinot_resources,
    }
    (inventory / "host_vars" / f"{HOST}.yml").write_text(yaml.safe_dump(host_vars, sort_keys=False))
    return inventory
