# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot table configs: normalisation, validation, writes; zone-aware instance assignment on request; and the
rebalance that follows a change of where segments live, or finds that they live elsewhere than described."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TABLE_TYPES, TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import placement, zones
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.placement import DEFAULT_TENANT
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.rebalance import TableRebalance
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import (
    Handler,
    load_definition,
    name_in_definition,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.stored_form import stored_form
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import raw_name

# Values Pinot stores as strings even when given as numbers.
STRING_FIELDS = {
    ("segmentsConfig", "replication"),
    ("segmentsConfig", "replicasPerPartition"),
    ("segmentsConfig", "retentionTimeValue"),
}
# Non-false defaults the controller writes into every stored config, by key path ("*" = any list index),
# with every version's value. Other keys absent from a definition compare as Pinot's default: false, 0,
# empty or null.
KNOWN_DEFAULTS = {
    ("tableIndexConfig", "rangeIndexVersion"): (2,),
    ("tableIndexConfig", "noDictionarySizeRatioThreshold"): (0.85, 0.0),  # 0.0 before 1.0
    ("tableIndexConfig", "columnMajorSegmentBuilderEnabled"): (True,),
    ("ingestionConfig", "segmentTimeValueCheck"): (True,),
    ("ingestionConfig", "ingestionExceptionLogRateLimitPerMin"): (5,),
    # Stored in every stream ingestion config (1.4, 1.5): a REALTIME table's no-op needs no validate.
    ("ingestionConfig", "streamIngestionConfig", "columnMajorSegmentBuilderEnabled"): (True,),
    ("ingestionConfig", "streamIngestionConfig", "disasterRecoveryMode"): ("DEFAULT",),
    # Filled into every instance assignment entry (1.5.1): a zone-aware table's no-op needs no validate. The
    # write decision still comes from /tables/validate.
    ("instanceAssignmentConfigMap", "*", "partitionSelector"): ("INSTANCE_REPLICA_GROUP_PARTITION_SELECTOR",),
}
# Sections compared as unordered sets of names (Pinot keeps them as given, but order has no meaning).
UNORDERED_NAME_LISTS = {
    ("tableIndexConfig", "invertedIndexColumns"),
    ("tableIndexConfig", "noDictionaryColumns"),
    ("tableIndexConfig", "bloomFilterColumns"),
    ("tableIndexConfig", "rangeIndexColumns"),
    ("tableIndexConfig", "onHeapDictionaryColumns"),
    ("tableIndexConfig", "varLengthDictionaryColumns"),
    ("tableIndexConfig", "jsonIndexColumns"),
}
SANITISED_LISTS = UNORDERED_NAME_LISTS | {("tableIndexConfig", "sortedColumn")}
EXTERNAL_VIEW_PENDING = "still exists"


# KNOWN_DEFAULTS by (depth, last key): a leaf's candidates in one lookup (every leaf of every table is checked).
_DEFAULTS_BY_LEAF = {}
for _pattern, _defaults in KNOWN_DEFAULTS.items():
    _DEFAULTS_BY_LEAF.setdefault((len(_pattern), _pattern[-1]), []).append((_pattern, _defaults))


def is_default(path: str, value: Any) -> bool:
    candidates = _DEFAULTS_BY_LEAF.get((len(path), path[-1]), []) + _DEFAULTS_BY_LEAF.get((len(path), "*"), [])
    for pattern, defaults in candidates:
        if all(part in ("*", key) for part, key in zip(pattern, path, strict=True)):
            return any(value == default and type(value) is type(default) for default in defaults)
    if isinstance(value, bool):
        return value is False
    if isinstance(value, (int, float)):
        return value == 0
    return value is None or value in ({}, [], "")


def _strip_defaults(value, path=()):
    """Remove leaves equal to Pinot's default for their path, and containers left empty."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            sub = path + (key,)
            if sub in SANITISED_LISTS and isinstance(item, list):
                item = [column for column in item if column != ""]
                if sub in UNORDERED_NAME_LISTS:
                    item = sorted(item, key=str)
            item = _strip_defaults(item, sub)
            if not is_default(sub, item):
                result[key] = item
        return result
    if isinstance(value, list):
        return [_strip_defaults(item, path + ("*",)) for item in value]
    return value


def normalise_table(config: dict[str, Any]) -> dict[str, Any]:
    """Comparable form of a table config, applied to both the desired and the live object (never changed: the
    sections changed here are copied first, and _strip_defaults builds new containers throughout)."""
    result = dict(config)
    table_type = str(result.get("tableType", "")).upper()
    result["tableType"] = table_type
    name = str(result.get("tableName", ""))
    if table_type and not name.endswith(TYPE_SUFFIX[table_type]):
        result["tableName"] = name + TYPE_SUFFIX[table_type]
    for section, key in STRING_FIELDS:
        if isinstance(result.get(section), dict) and isinstance(result[section].get(key), (int, float)):
            result[section] = dict(result[section])
            result[section][key] = str(result[section][key])
    tenants = result.get("tenants") if isinstance(result.get("tenants"), dict) else {}
    result["tenants"] = dict(tenants, broker=tenants.get("broker") or DEFAULT_TENANT,
                             server=tenants.get("server") or DEFAULT_TENANT)
    return _strip_defaults(result)


def as_created(stored: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """What the write adds beyond /tables/validate: a dimension table's default storage quota."""
    if stored.get("isDimTable") and not (stored.get("quota") or {}).get("storage"):
        quota = ((live or {}).get("quota") or {}).get("storage")
        if quota:
            stored["quota"] = dict(stored.get("quota") or {}, storage=quota)
    return stored


def validate_table(config, name, table_type):
    """Local checks whose failures name the field; returns (raw name, table type)."""
    if not isinstance(config, dict):
        raise SpecError("table", f"must be a JSON object, not {type(config).__name__}")
    config_type = config.get("tableType")
    if config_type is None and table_type:
        config["tableType"] = config_type = table_type
    if not isinstance(config_type, str) or config_type.upper() not in TABLE_TYPES:
        raise SpecError("table.tableType", f"{config_type!r} is not one of OFFLINE, REALTIME")
    config_type = config_type.upper()
    if table_type and table_type != config_type:
        raise SpecError("table_type", f"{table_type} does not match table.tableType {config_type}")
    config_name = name_in_definition(config, "tableName", name, "table")
    raw = raw_name(config_name)
    if config_name != raw and not config_name.endswith(TYPE_SUFFIX[config_type]):
        raise SpecError("table.tableName", f"'{config_name}' has a type suffix that is not {config_type}")
    if name and raw_name(name) != raw:
        raise SpecError("name", f"'{name}' does not match table.tableName '{config_name}'")
    if "__" in raw:
        raise SpecError("table.tableName", f"'{raw}' must not contain '__'")
    for section in ("segmentsConfig", "tableIndexConfig"):
        if not isinstance(config.get(section, {}), dict):
            raise SpecError(f"table.{section}", "must be an object")
        config.setdefault(section, {})
    tenants = config.setdefault("tenants", {})
    if not isinstance(tenants, dict):
        raise SpecError("table.tenants", "must be an object")
    # Pinot 1.0-1.2 require metadata; later versions accept it.
    config.setdefault("metadata", {})
    replication = config["segmentsConfig"].get("replication")
    if replication is not None and not str(replication).isdigit():
        raise SpecError("table.segmentsConfig.replication", f"{replication!r} is not a whole number")
    if config_type == "REALTIME":
        stream = (config.get("ingestionConfig") or {}).get("streamIngestionConfig") or \
            config["tableIndexConfig"].get("streamConfigs")
        if not stream:
            raise SpecError("table.ingestionConfig.streamIngestionConfig",
                            "a REALTIME table needs a stream configuration")
    return raw, config_type


class TableHandler(Handler):
    kind = "table"

    def __init__(self, client, name, table_type, *, check_mode=False, force=False, rebalance=None,
                 delete_retention=None, zone_kinds=(), zone_option=None):
        super().__init__(client, name, check_mode)
        self.table_type = table_type
        self.force = force
        self.rebalance = rebalance  # None: never (callers without the option); else the module's suboptions
        self.delete_retention = delete_retention
        self.zone_kinds = zone_kinds  # the instance partitions types filled in because of the option zone_option
        self.zone_option = zone_option
        self.drift = {}  # how the ideal state departs from the description (observe)
        self.pools = {}  # {server tag: {instance: pool}} where observe read them

    @property
    def rebalance_when(self):
        return "never" if self.rebalance is None else self.rebalance.get("when") or "auto"

    @classmethod
    def observe(cls, plans):
        """The ideal state of each live table (when rebalances are automatic), and the pools of the servers of
        each tag where a table's zones matter: each read once for the whole task, concurrently."""
        present = [plan for plan in plans if plan.state == "present"]
        if not present:
            return
        client = present[0].handler.client
        watched = [plan for plan in present if plan.live is not None and plan.handler.rebalance_when == "auto"]
        ideal_states = client.get_many([plan.handler.path + "/idealstate?tableType=" + plan.handler.table_type
                                        for plan in watched])
        for plan, found in zip(watched, ideal_states, strict=True):
            plan.handler.observe_placement((found or {}).get(plan.handler.table_type) or {}, plan.desired)
        zoned = [plan for plan in present if plan.handler.needs_pools(plan)]
        tags = sorted({tag for plan in zoned for tag in placement.server_tags(plan.desired, plan.handler.table_type)
                       .values()})
        pools = zones.read_pools(client, tags) if tags else {}
        for plan in zoned:
            plan.handler.pools = pools
            plan.handler.warn_shared_zones(plan.desired)

    def observe_placement(self, ideal_state, desired):
        """Compare where the segments are with the description: replicas, and the servers they may live on."""
        if not ideal_state:
            return
        allowed = set()
        for tag in placement.serving_tags(desired, self.table_type):
            instances = placement.tag_instances(self.client, tag)
            if instances is None:  # a tag outside Pinot's naming: its servers cannot be listed
                allowed = None
                break
            allowed.update(instances)
        self.drift = placement.drift(ideal_state, placement.replication(desired, self.table_type), allowed)

    def needs_pools(self, plan):
        """Pools are read for a replicated table that may put replicas in one zone (to warn), and for a changed
        table whose zones this task fills in (to check there are enough)."""
        if self.zone_kinds:
            return plan.changed
        return placement.replication(plan.desired, self.table_type) > 1 and \
            not zones.is_zone_separated(plan.desired, self.table_type)

    def warn_shared_zones(self, desired):
        if self.zone_kinds:
            return
        for tag in placement.server_tags(desired, self.table_type).values():
            pools = zones.distinct_pools(self.pools.get(tag) or {})
            if len(pools) > 1:
                self.warnings.append(
                    f"table {self.name_with_type}: its {placement.replication(desired, self.table_type)} replicas "
                    f"could share a zone: the servers tagged {tag} are in pools {', '.join(map(str, pools))}, and "
                    "the table's instance assignment is not one replica group per pool (zone_aware: true)")

    @property
    def identity(self):
        """A hybrid table is two objects of one raw name: the two halves may share a bulk run."""
        return {"name": self.name, "table_type": self.table_type}

    @property
    def path(self):
        return "/tables/" + quote(self.name, safe="")

    @property
    def name_with_type(self):
        return f"{self.name}_{self.table_type}"

    def read(self):
        found = self.client.get(self.path, params={"type": self.table_type.lower()}, missing_ok=True)
        return (found or {}).get(self.table_type)  # 404 on 1.4+, {} on 1.0-1.3

    def normalise(self, obj):
        return normalise_table(obj)

    def validate_with_server(self, desired, live):
        if live is None:
            if self.client.get("/schemas/" + quote(self.name, safe=""), missing_ok=True) is None:
                raise SpecError("table.tableName", f"no schema named '{self.name}' exists; create the schema "
                                "(pinotops.k8s.pinot_schema) before the table")
            tenants = desired.get("tenants") or {}
            for role, key in (("broker", "broker"), ("server", "server")):
                tenant = tenants.get(key) or DEFAULT_TENANT
                # Many tables share a tenant: the bulk path asks once per tenant, not once per table.
                if self.client.get_once("/tenants/" + quote(tenant, safe=""), params={"type": role},
                                        missing_ok=True) is None:
                    raise SpecError(f"table.tenants.{key}", f"{role} tenant '{tenant}' has no instances; "
                                    "create it first (pinotops.k8s.pinot_tenant)")
        self.validate_zones(desired)
        stored, warnings = stored_form(self.client, "/tables/validate", desired, "table",
                                       lambda verdict: verdict.get(self.table_type))
        self.warnings.extend(warnings)
        return stored

    def validate_zones(self, desired):
        """Pinot refuses a pool-based assignment with more pools than the tag's servers are in, after the table
        is stored: refused here first, naming the option."""
        for kind in self.zone_kinds:
            entry = desired["instanceAssignmentConfigMap"][kind]["tagPoolConfig"]
            pools = zones.distinct_pools(self.pools.get(entry["tag"]) or {})
            if len(pools) < entry["numPools"]:
                raise SpecError(self.zone_option, f"table {self.name_with_type} has {entry['numPools']} replicas, one "
                                f"per zone, but the servers tagged {entry['tag']} are in {len(pools)} pool(s)"
                                f"{' (' + ', '.join(map(str, pools)) + ')' if pools else ''}: give each zone's "
                                "servers their pool, or lower the replication")

    def as_stored(self, stored, live):
        return as_created(copy.deepcopy(stored), live)

    def create(self, desired):
        self.client.post("/tables", body=desired,
                         retry_if=lambda status, message: status == 409 and EXTERNAL_VIEW_PENDING in message)

    def update(self, desired, live):
        params = {"force": "true"} if self.force else None
        self.client.put(self.path, body=desired, params=params)

    def delete(self, live):
        params = {"type": self.table_type.lower()}
        if self.delete_retention:
            params["retention"] = self.delete_retention
        self.client.delete(self.path, params=params)

    def converge(self, live, changes, check_mode):
        """A rebalance (dry run first, no downtime unless told) after a change of where segments live, or when
        the ideal state departs from the description; a new table has no segments to move."""
        moved = placement.touches(changes, placement.PLACEMENT_FIELDS)
        if live is None or self.rebalance_when == "never" or not (moved or self.drift):
            return None
        options = dict(self.rebalance, update_target_tier=placement.touches(changes, ("tierConfigs",)))
        if options.get("reassign_instances") is None:
            # The instances are recomputed when they changed, or when the segments departed from a config that
            # did not: Pinot's stored instance partitions may name servers gone from the tenant.
            options["reassign_instances"] = placement.touches(changes, placement.INSTANCE_FIELDS) or (
                "instances_outside_tenant" in self.drift) or (bool(self.drift) and not moved)
        if check_mode and moved:
            # Pinot's dry run plans from the stored config, which check mode leaves as it was.
            entry = {"table_type": self.table_type, "status": "would rebalance", "job_id": None}
        else:
            entry, warnings = TableRebalance(self.client, self.name, self.table_type).run(
                options, check_mode, wait=options.get("wait", True), timeout=options.get("timeout", 600))
            self.warnings.extend(warnings)
        self.extra_result["rebalance"] = entry
        if not self.drift:
            return None
        if entry["status"] == "NO_OP":
            found = ", ".join(f"{key} {value}" for key, value in self.drift.items())
            self.warnings.append(f"table {self.name_with_type}: the ideal state departs from the description "
                                 f"({found}), but Pinot's rebalance dry run moves nothing")
            return None
        return {"served": self.drift}, {"served": {key: 0 if isinstance(value, int) else []
                                                   for key, value in self.drift.items()}}


def build(client: PinotClient, params: dict[str, Any], check_mode: bool) -> tuple[TableHandler, dict[str, Any] | None]:
    desired = load_definition(params, "table")
    table_type = params.get("table_type")
    zone_kinds, zone_option = (), None
    if desired is None:
        if params["state"] == "present":
            raise SpecError("table", "one of table or src is required with state=present")
        if not params.get("name") or not table_type:
            raise SpecError("name", "name and table_type are required with state=absent and no definition")
        desired = {"tableName": params["name"], "tableType": table_type, "segmentsConfig": {},
                   "tableIndexConfig": {}}
        raw = raw_name(params["name"])
    else:
        raw, table_type = validate_table(desired, params.get("name"), table_type)
        zone_option = zones.requested_by(params, desired)
        if zone_option:
            filled = zones.zone_entries(desired, table_type)
            if filled:
                desired["instanceAssignmentConfigMap"] = dict(desired.get("instanceAssignmentConfigMap") or {},
                                                              **filled)
            zone_kinds = tuple(filled)
    handler = TableHandler(client, raw, table_type, check_mode=check_mode, force=params.get("force", False),
                           rebalance=params.get("rebalance"), delete_retention=params.get("delete_retention"),
                           zone_kinds=zone_kinds, zone_option=zone_option)
    return handler, desired


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    table_type = params.get("table_type")
    type_param = {"type": table_type.lower()} if table_type else None
    if params.get("name"):
        found = client.get("/tables/" + quote(raw_name(params["name"]), safe=""), params=type_param,
                           missing_ok=True) or {}
        return {"table": found}
    names = sorted((client.get("/tables", params=type_param) or {}).get("tables") or [])
    found = client.get_many(["/tables/" + quote(raw_name(name), safe="") for name in names])
    return {"tables": {raw_name(name): table for name, table in zip(names, found, strict=True) if table}}
