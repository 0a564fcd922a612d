# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a table's segments should live, read from its config, and how the ideal state departs from it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient

DEFAULT_TENANT = "DefaultTenant"
# Config fields (dotted paths of the normalised config) that decide where segments live: a change to one is
# followed by a rebalance.
PLACEMENT_FIELDS = ("segmentsConfig.replication", "segmentsConfig.replicasPerPartition", "tenants.server",
                    "tenants.tagOverrideConfig", "instanceAssignmentConfigMap", "instancePartitionsMap",
                    "segmentAssignmentConfigMap", "tierConfigs")
# Of those, the ones that change which instances a table uses: the rebalance then recomputes the instance
# assignment (reassignInstances).
INSTANCE_FIELDS = PLACEMENT_FIELDS[2:]


def touches(changes: list[str], fields: Iterable[str]) -> bool:
    """Whether any changed path (as diff_paths gives them, maybe with ' (added)') is or lies under one of `fields`."""
    return any(path == field or path.startswith((field + ".", field + " ", field + "["))
               for path in changes for field in fields)


def replication(config: dict[str, Any], table_type: str) -> int:
    """The replicas each segment should have: Pinot reads replicasPerPartition first for a REALTIME table (older
    configs), replication otherwise; 1 when neither is set."""
    segments = config.get("segmentsConfig") or {}
    value = segments.get("replicasPerPartition") if table_type == "REALTIME" else None
    if value is None:
        value = segments.get("replication")
    return int(value) if value is not None and str(value).isdigit() else 1


def server_tags(config: dict[str, Any], table_type: str) -> dict[str, str]:
    """{instance partitions type: server tag} of a table: OFFLINE, or CONSUMING and (when its completed
    segments move to other servers) COMPLETED."""
    tenants = config.get("tenants") or {}
    server = tenants.get("server") or DEFAULT_TENANT
    if table_type == "OFFLINE":
        return {"OFFLINE": server + TYPE_SUFFIX["OFFLINE"]}
    overrides = tenants.get("tagOverrideConfig") or {}
    tags = {"CONSUMING": overrides.get("realtimeConsuming") or server + TYPE_SUFFIX["REALTIME"]}
    if overrides.get("realtimeCompleted"):
        tags["COMPLETED"] = overrides["realtimeCompleted"]
    return tags


def serving_tags(config: dict[str, Any], table_type: str) -> set[str]:
    """Every server tag a segment of the table may live on: its own, and its storage tiers'."""
    tags = set(server_tags(config, table_type).values())
    tags.update(tier["serverTag"] for tier in config.get("tierConfigs") or [] if tier.get("serverTag"))
    return tags


def tenant_of(tag: str) -> tuple[str, str] | None:
    """(tenant, 'OFFLINE' or 'REALTIME') of a server tag, or None for a tag outside Pinot's naming."""
    for table_type, suffix in TYPE_SUFFIX.items():
        if tag.endswith(suffix) and len(tag) > len(suffix):
            return tag[:-len(suffix)], table_type
    return None


def tag_instances(client: PinotClient, tag: str) -> list[str] | None:
    """The servers carrying `tag`, from the tenant's listing (one GET per tenant and task); None for a tag
    outside Pinot's naming."""
    named = tenant_of(tag)
    if named is None:
        return None
    tenant, kind = named
    found = client.get_once("/tenants/" + quote(tenant, safe=""), params={"type": "server"}, missing_ok=True) or {}
    key = "OfflineServerInstances" if kind == "OFFLINE" else "RealtimeServerInstances"
    return found.get(key, found.get("ServerInstances")) or []


def drift(ideal_state: dict[str, Any], replicas: int, allowed: set[str] | None = None) -> dict[str, Any]:
    """How the ideal state ({segment: {instance: state}}) departs from the description: segments with fewer
    than `replicas` instances, and replicas on instances outside `allowed` (None: not checked). {} when none.
    """
    short = sorted(segment for segment, instances in ideal_state.items() if len(instances or {}) < replicas)
    outside = sorted({instance for instances in ideal_state.values() for instance in instances or {}
                      if allowed is not None and instance not in allowed})
    found = {}
    if short:
        found["segments_below_replication"] = len(short)
    if outside:
        found["instances_outside_tenant"] = outside
    return found
