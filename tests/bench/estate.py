"""The benchmark's estate: one cluster of 6 node groups (12 pods), 100 schemas, 100 OFFLINE tables, 4 tenants
(or two such clusters, each with 2 of the tenants, as two hosts of one inventory), and the x5 estate: the same
cluster with 500 schemas, each with an OFFLINE and a REALTIME table (1,000 tables, hybrid pairs: Pinot pairs a
table with the schema of its raw name), over 20 server tenants.

Both playbooks get the same estate as extra vars: ours the descriptions, the baseline the same objects as
plain Kubernetes manifests (rendered by the collection's own renderer, so both sides ask for identical objects)
and plain Pinot JSON bodies.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import render_cluster  # noqa: E402
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster  # noqa: E402

SCHEMAS = 100
TENANTS = 4
X5_SCHEMAS = 500
X5_TENANTS = 20
OLD_IMAGE = "apachepinot/pinot:1.4.0"
NEW_IMAGE = "apachepinot/pinot:1.5.1"
GROUPS = (("controller", "controller"), ("broker", "broker"), ("server-a", "server"), ("server-b", "server"),
          ("server-c", "server"), ("minion", "minion"))
REPLICAS = 2


def cluster(namespace: str, image: str = OLD_IMAGE, ready_delay: str = "2s") -> dict[str, Any]:
    zones = {"server-a": "zone-a", "server-b": "zone-b", "server-c": "zone-c"}
    groups = []
    for name, role in GROUPS:
        group: dict[str, Any] = {"name": name, "role": role, "replicas": REPLICAS, "profile": "bench"}
        if name in zones:
            group["zone"] = zones[name]
        groups.append(group)
    return {
        "name": "pinot",
        "namespace": namespace,
        "image": image,
        "zookeeper": {"address": "zk-0.zk:2181/pinot"},
        "profiles": {"bench": {
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
            "storage": {"size": "1Gi"},
            "pod_annotations": {"testbed.pinotops.io/ready-delay": ready_delay},
        }},
        "node_groups": groups,
    }


def manifests(description: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects pinot_cluster manages, as plain manifests in apply order (for the baseline)."""
    return [m for _stage, stage_manifests in render_cluster(normalise_cluster(description))
            for m in stage_manifests]


def schema(name: str) -> dict[str, Any]:
    return {
        "schemaName": name,
        "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"}, {"name": "device", "dataType": "STRING"}],
        "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG"}],
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                "granularity": "1:MILLISECONDS"}],
    }


def table(name: str, tenant: str) -> dict[str, Any]:
    return {
        "tableName": name,
        "tableType": "OFFLINE",
        "segmentsConfig": {"timeColumnName": "ts", "replication": 1, "retentionTimeUnit": "DAYS",
                           "retentionTimeValue": 30},
        "tenants": {"broker": "DefaultTenant", "server": tenant},
        "tableIndexConfig": {"invertedIndexColumns": ["country"], "loadMode": "MMAP"},
        "metadata": {},
    }


def stream(topic: str, bootstrap: str, consumer_factory: str) -> dict[str, str]:
    """The stream of the x5 estate's REALTIME tables: every table reads the same Kafka topic."""
    return {
        "streamType": "kafka",
        "stream.kafka.topic.name": topic,
        "stream.kafka.broker.list": bootstrap,
        "stream.kafka.consumer.factory.class.name": consumer_factory,
        "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    }


def realtime_table(name: str, tenant: str, stream_config: dict[str, str]) -> dict[str, Any]:
    """The REALTIME half of a hybrid table: the OFFLINE config's settings, plus its stream."""
    config = table(name, tenant)
    config["tableType"] = "REALTIME"
    config["segmentsConfig"]["replicasPerPartition"] = "1"
    config["ingestionConfig"] = {"streamIngestionConfig": {"streamConfigMaps": [dict(stream_config)]}}
    return config


def estate(namespace: str, prefix: str, servers: list[str], kubeconfig: str, controller_url: str, *,
           tenant_prefix: str = "bench", schemas: int = SCHEMAS,
           stream_config: dict[str, str] | None = None) -> dict[str, Any]:
    """Variables of one inventory host for both playbooks. `servers`: one Pinot server instance per tenant.
    With `stream_config`, every schema has a REALTIME table on that stream besides its OFFLINE one."""
    names = [f"{prefix}_{i:03d}" for i in range(schemas)]
    tenants = [{"name": f"{tenant_prefix}_t{i}", "role": "SERVER", "instances": [server]}
               for i, server in enumerate(servers)]
    tables = [table(name, tenants[i % len(tenants)]["name"]) for i, name in enumerate(names)]
    if stream_config is not None:
        tables += [realtime_table(name, tenants[i % len(tenants)]["name"], stream_config)
                   for i, name in enumerate(names)]
    description = cluster(namespace)
    return {
        "bench_kubeconfig": kubeconfig,
        "bench_controller_url": controller_url,
        "bench_cluster": description,
        "bench_manifests": manifests(description),
        "bench_tenants": tenants,
        "bench_schemas": [schema(name) for name in names],
        "bench_tables": tables,
    }


def objects(host_vars: dict[str, Any]) -> int:
    """Objects one host's estate manages: Kubernetes objects, tenants, schemas, tables."""
    return sum(len(host_vars[key]) for key in ("bench_manifests", "bench_tenants", "bench_schemas", "bench_tables"))
