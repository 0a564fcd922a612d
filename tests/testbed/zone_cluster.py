"""A Pinot cluster over three zones on the test bed's zone nodes (real_node.control_plane_with_zone_nodes).

Shared by the zone tests (tests/integration/test_real_node_zones.py) and `make bench`'s zone rows. Three ZooKeeper
replicas (spread one per zone by pinot_cluster), the controller and two brokers in zone-a, and a server group of
two per zone, its pods started and recreated together (`pod_management_policy: Parallel`). Each server group's
zone is its Pinot pool; the tables of DefaultTenant are zone-aware (one replica group per zone, replication 3).
Kafka runs on the host's node address, which no zone's loss cuts off.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.testbed.real_cluster import OFFLINE, REALTIME, RealCluster
from tests.testbed.real_node import NODE_LABEL

ZONES = ("zone-a", "zone-b", "zone-c")
SERVERS_PER_ZONE = 2
REPLICATION = len(ZONES)


def zone_description(image: str, namespace: str) -> dict[str, Any]:
    placed = {"node_selector": {NODE_LABEL: "true"}, "image_pull_policy": "Never"}
    small = dict(placed, resources={"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "768Mi"}},
                 storage={"size": "1Gi"})
    servers = [{"name": f"server-{zone.removeprefix('zone-')}", "role": "server", "replicas": SERVERS_PER_ZONE,
                "zone": zone, "profile": "server"} for zone in ZONES]
    return {
        "name": "pinot", "namespace": namespace, "image": image,
        "zookeeper": {"managed": {"replicas": len(ZONES), "storage": {"size": "1Gi"}, "profile": "zk"}},
        "pinot": {
            "controller": {"jvm_opts": "-Xms128m -Xmx384m"},
            "broker": {"jvm_opts": "-Xms128m -Xmx256m"},
            "server": {"jvm_opts": "-Xms128m -Xmx320m"},
        },
        "profiles": {"zk": placed, "small": small, "server": dict(small, pod_management_policy="Parallel")},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 1, "zone": "zone-a", "profile": "small"},
            {"name": "broker", "role": "broker", "replicas": 2, "zone": "zone-a", "profile": "small"},
            *servers,
        ],
    }


def zone_resources(kafka_bootstrap: str, consumer_factory: str, topic: str) -> dict[str, Any]:
    """An OFFLINE and a REALTIME table of replication 3 on DefaultTenant, made zone-aware by the role."""
    time_spec = [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]
    replication = str(REPLICATION)
    return {
        "pinot_cluster_schemas": [
            {"schemaName": OFFLINE, "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"},
                                                            {"name": "city", "dataType": "STRING"}],
             "metricFieldSpecs": [{"name": "fare", "dataType": "INT"}]},
            {"schemaName": REALTIME, "dimensionFieldSpecs": [{"name": "user", "dataType": "STRING"}],
             "dateTimeFieldSpecs": time_spec},
        ],
        "pinot_cluster_tables": [
            {"tableName": OFFLINE, "tableType": "OFFLINE", "segmentsConfig": {"replication": replication},
             "tenants": {}, "tableIndexConfig": {}, "metadata": {}},
            {"tableName": REALTIME, "tableType": "REALTIME",
             "segmentsConfig": {"timeColumnName": "ts", "replication": replication,
                                "replicasPerPartition": replication},
             "tenants": {}, "metadata": {},
             "tableIndexConfig": {"streamConfigs": {
                 "streamType": "kafka", "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka_bootstrap,
                 "stream.kafka.consumer.factory.class.name": consumer_factory,
                 "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
                 "stream.kafka.consumer.prop.auto.offset.reset": "smallest"}}},
        ],
        "pinot_cluster_zone_aware_tenants": ["DefaultTenant"],
    }


def server_instance(namespace: str, group: str, ordinal: int) -> str:
    return f"Server_pinot-{group}-{ordinal}.pinot-{group}-headless.{namespace}.svc.cluster.local_8098"


def zone_servers(namespace: str, zone: str) -> list[str]:
    group = f"server-{zone.removeprefix('zone-')}"
    return [server_instance(namespace, group, n) for n in range(SERVERS_PER_ZONE)]


def zone_of_server(namespace: str) -> dict[str, str]:
    return {name: zone for zone in ZONES for name in zone_servers(namespace, zone)}


def placement(cluster: RealCluster, table_with_type: str, view: str = "externalview") -> dict[str, dict[str, str]]:
    """{segment: {instance: state}} of a table's ideal state or external view."""
    raw, _sep, table_type = table_with_type.rpartition("_")
    body = cluster.controller("GET", f"/tables/{raw}/{view}").json()
    return body.get(table_type) or {}


def zones_of_segments(cluster: RealCluster, table_with_type: str, states: tuple[str, ...] = ("ONLINE", "CONSUMING")
                      ) -> dict[str, list[str]]:
    """{segment: sorted zones of its replicas in a serving state} from the external view."""
    zone_of = zone_of_server(cluster.namespace)
    return {segment: sorted(zone_of.get(instance, "?") for instance, state in replicas.items() if state in states)
            for segment, replicas in placement(cluster, table_with_type).items()}


class LiveWatch(threading.Thread):
    """When the controller's live instances first lacked every one of `instances`, and first held them all again
    (polled every 0.5 s): when Pinot saw a zone go and come back. Also every ZooKeeper session each live instance
    was seen with, in order: an instance outside the zone with two lost its session and re-registered."""

    def __init__(self, cluster: RealCluster, instances: list[str]) -> None:
        super().__init__(daemon=True)
        self.cluster, self.instances = cluster, set(instances)
        self.gone_at: float | None = None
        self.back_at: float | None = None
        self.polls = 0
        self.sessions: dict[str, list[tuple[float, str]]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        helix = self.cluster.controller("GET", "/cluster/info").json()["clusterName"]
        while not self._halt.wait(0.5):
            try:
                records = self.cluster.controller("GET", "/zk/getChildren",
                                                  params={"path": f"/{helix}/LIVEINSTANCES"}).json()
            except Exception:  # noqa: BLE001 - the controller is in another zone; a missed poll is retried
                continue
            self.polls += 1
            now = time.monotonic()
            live = {r["id"] for r in records}
            for record in records:
                seen = self.sessions.setdefault(record["id"], [])
                session = record["simpleFields"].get("SESSION_ID", "?")
                if not seen or seen[-1][1] != session:
                    seen.append((now, session))
            if self.gone_at is None and not live & self.instances:
                self.gone_at = now
            elif self.gone_at is not None and self.back_at is None and self.instances <= live:
                self.back_at = now

    def renewed(self) -> dict[str, list[float]]:
        """{instance outside the watched ones: when it was seen with a new session} for each that had one."""
        return {name: [at for at, _session in seen[1:]] for name, seen in self.sessions.items()
                if name not in self.instances and len(seen) > 1}

    def stop(self) -> None:
        self._halt.set()
        self.join()
