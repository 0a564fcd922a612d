# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Zone-aware tables: one replica group per zone, a zone being a Pinot pool (a server's pool is per tag).

Pinot's pool-based instance assignment gives replica group r the pool at (hash of the table name + r) modulo the
selected pools, so with as many selected pools as replica groups no two groups share a pool. `numPools` is the
replication: Pinot refuses the assignment when the tag has fewer pools than that, rather than putting two
replicas in one zone. `numInstancesPerReplicaGroup` is left at 0, which Pinot reads as the most instances the
smallest selected pool can give each group (groups are equal in size).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.placement import (
    DEFAULT_TENANT,
    replication,
    server_tags,
    tag_instances,
)


def requested_by(params: dict[str, Any], config: dict[str, Any]) -> str | None:
    """The option that makes the table zone-aware (zone_aware, or zone_aware_tenants naming its server tenant);
    None when none does."""
    if params.get("zone_aware"):
        return "zone_aware"
    if ((config.get("tenants") or {}).get("server") or DEFAULT_TENANT) in (params.get("zone_aware_tenants") or []):
        return "zone_aware_tenants"
    return None


def zone_entry(tag: str, replicas: int) -> dict[str, Any]:
    return {"tagPoolConfig": {"tag": tag, "poolBased": True, "numPools": replicas},
            "replicaGroupPartitionConfig": {"replicaGroupBased": True, "numReplicaGroups": replicas}}


def zone_entries(config: dict[str, Any], table_type: str) -> dict[str, dict[str, Any]]:
    """{instance partitions type: entry} of one replica group per zone, for each type the definition does not
    assign itself: an entry the user wrote, or instance partitions given in instancePartitionsMap, win."""
    written = config.get("instanceAssignmentConfigMap") or {}
    given = config.get("instancePartitionsMap") or {}
    replicas = replication(config, table_type)
    return {kind: zone_entry(tag, replicas) for kind, tag in server_tags(config, table_type).items()
            if kind not in written and kind not in given}


def is_zone_separated(config: dict[str, Any], table_type: str) -> bool:
    """Whether Pinot keeps the table's replica groups in distinct pools: pool-based and replica-group based for
    every instance partitions type, with as many pools as groups (or all pools), or instance partitions given."""
    entries = config.get("instanceAssignmentConfigMap") or {}
    given = config.get("instancePartitionsMap") or {}
    for kind in server_tags(config, table_type):
        if kind in given:
            continue
        entry = entries.get(kind) or {}
        pools = entry.get("tagPoolConfig") or {}
        groups = entry.get("replicaGroupPartitionConfig") or {}
        if not (pools.get("poolBased") and groups.get("replicaGroupBased")):
            return False
        selected = int(pools.get("numPools") or 0)
        if 0 < selected < int(groups.get("numReplicaGroups") or 0) and not pools.get("pools"):
            return False
    return True


def read_pools(client: PinotClient, tags: Iterable[str]) -> dict[str, dict[str, int | None]]:
    """{tag: {instance: pool or None}} of the servers of each tag: each tenant once, each instance once, the
    instances concurrently. A tag outside Pinot's naming, or without servers, maps to {}."""
    instances_of = {tag: tag_instances(client, tag) or [] for tag in tags}
    names = sorted({name for found in instances_of.values() for name in found})
    configs = dict(zip(names, client.get_many(["/instances/" + quote(name, safe="") for name in names]), strict=True))
    return {tag: {name: ((configs.get(name) or {}).get("pools") or {}).get(tag) for name in found}
            for tag, found in instances_of.items()}


def distinct_pools(pools: dict[str, int | None]) -> list[int]:
    return sorted({pool for pool in pools.values() if pool is not None}, key=str)
