# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot logical tables (1.4+): one name that queries several physical tables, `/logicalTables` on the controller.

Pinot checks a logical table only when it is written, and has no validate endpoint for it, so everything the
controller would refuse is checked here first, with the field named, from what the controller holds (its tables,
schemas and broker tenants). The `query` and `quota` sections are the same objects as a table config's: the
controller's own `/tables/validate` gives their stored form, asked with one of the physical tables' live config.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TABLE_TYPES, TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, older_than
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.placement import DEFAULT_TENANT
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import (
    Handler,
    load_definition,
    name_in_definition,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.stored_form import stored_form
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import raw_name

PATH = "/logicalTables"
SINCE = "1.4"
MULTI_CLUSTER = "multiCluster"  # the one property of a physical table's entry, since Pinot 1.5 (1.4 drops it)
MULTI_CLUSTER_SINCE = (1, 5)
# The properties of Pinot's LogicalTableConfig (1.4 and 1.5 alike), by the module option that fills each.
OPTIONS = {
    "tableName": "name",
    "physicalTableConfigMap": "physical_tables",
    "refOfflineTableName": "ref_offline_table",
    "refRealtimeTableName": "ref_realtime_table",
    "brokerTenant": "broker_tenant",
    "timeBoundaryConfig": "time_boundary",
    "query": "query",
    "quota": "quota",
}
REF_KEYS = {"OFFLINE": "refOfflineTableName", "REALTIME": "refRealtimeTableName"}
TABLE_SECTIONS = ("query", "quota")  # the table config's QueryConfig and QuotaConfig


def table_type_of(name: str) -> str | None:
    return next((kind for kind, suffix in TYPE_SUFFIX.items() if name.endswith(suffix)), None)


def _pruned(value):
    """`value` without the leaves Pinot leaves out or writes as their default (null, false, empty)."""
    if isinstance(value, dict):
        result = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in result.items() if item not in (None, False, "", {}, [])}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def normalise_logical_table(config: dict[str, Any]) -> dict[str, Any]:
    """Comparable form of a logical table: the broker tenant Pinot fills in when none is given, and no null,
    false or empty leaves (1.5 writes `multiCluster: false` into each physical table's entry, 1.4 an empty one)."""
    result = _pruned(config)
    result["brokerTenant"] = config.get("brokerTenant") or DEFAULT_TENANT
    result["physicalTableConfigMap"] = {name: _pruned(entry) or {} for name, entry in
                                        (config.get("physicalTableConfigMap") or {}).items()}
    return result


def unsupported(client: PinotClient) -> SpecError:
    """The error for a controller without logical tables, naming its version."""
    version = client.pinot_version()
    return SpecError(None, f"Pinot {version or '(version unknown)'} has no logical tables (GET {PATH} is not "
                     f"found); they came with Pinot {SINCE}")


class LogicalTableHandler(Handler):
    kind = "logical_table"

    def __init__(self, client, name, check_mode=False, *, options=False, physical_order=()):
        super().__init__(client, name, check_mode)
        self.options = options  # the definition was built from the module's options (errors name those)
        self.physical_order = list(physical_order)

    @property
    def path(self):
        return f"{PATH}/{quote(self.name, safe='')}"

    def field(self, key, rest=""):
        """The option or definition path that gave `key` of the config, for an error message."""
        if self.options:
            if key == "physicalTableConfigMap" and rest in self.physical_order:
                return f"physical_tables[{self.physical_order.index(rest)}]"
            return OPTIONS[key] + (f".{rest}" if rest else "")
        return f"definition.{key}" + (f".{rest}" if rest else "")

    def read(self):
        found = self.client.get(self.path, missing_ok=True)
        if found is None and self.client.get_once(PATH, missing_ok=True) is None:
            raise unsupported(self.client)
        return found

    def normalise(self, obj):
        return normalise_logical_table(obj)

    def validate_with_server(self, desired, live):
        """What the controller checks on a write, read-only and before it: the schema of the same name, no
        physical table of that name, the physical tables and the broker tenant exist. Returns the config as Pinot
        stores it (the query and quota sections in their stored form)."""
        client = self.client
        schema = client.get("/schemas/" + quote(self.name, safe=""), missing_ok=True)
        if schema is None:
            raise SpecError(self.field("tableName"), f"Pinot needs a schema named '{self.name}', as the logical "
                            "table; create it first (pinotops.k8s.pinot_schema)")
        # With a type, Pinot lists the tables by their names with the type: one list of every physical table.
        existing = {name for kind in TABLE_TYPES
                    for name in (client.get("/tables", params={"type": kind.lower()}) or {}).get("tables") or []}
        if live is None and any(raw_name(name) == self.name for name in existing):
            raise SpecError(self.field("tableName"), f"'{self.name}' is a physical table; a logical table needs a "
                            "name of its own")
        self.check_multi_cluster(desired)
        local = self.local_tables(desired)
        for physical in local:
            if physical not in existing:
                raise SpecError(self.field("physicalTableConfigMap", physical),
                                f"no {table_type_of(physical)} table '{raw_name(physical)}' exists ({physical})")
        tenant = desired.get("brokerTenant") or DEFAULT_TENANT
        if client.get("/tenants/" + quote(tenant, safe=""), params={"type": "broker"}, missing_ok=True) is None:
            raise SpecError(self.field("brokerTenant"), f"broker tenant '{tenant}' has no instances; create it "
                            "first (pinotops.k8s.pinot_tenant)")
        self.warn_missing_columns(schema, local)
        stored = copy.deepcopy(desired)
        stored["brokerTenant"] = tenant
        stored.update(self.stored_sections(desired, local))
        return stored

    def check_multi_cluster(self, desired):
        """Pinot 1.4 has no tables of other clusters: it drops the key and checks the table exists here."""
        remote = [name for name, entry in desired["physicalTableConfigMap"].items()
                  if (entry or {}).get(MULTI_CLUSTER)]
        if remote:
            version = self.client.pinot_version()
            if older_than(version, MULTI_CLUSTER_SINCE):
                raise SpecError(self.field("physicalTableConfigMap", remote[0]) + f".{MULTI_CLUSTER}",
                                f"Pinot {version} has no physical tables of other clusters (Pinot 1.5 and later); "
                                "it would drop the key")

    @staticmethod
    def local_tables(desired):
        """The physical tables of this cluster (Pinot 1.5's `multiCluster` entries are another cluster's)."""
        return [name for name, entry in desired["physicalTableConfigMap"].items()
                if not (entry or {}).get(MULTI_CLUSTER)]

    def warn_missing_columns(self, schema, tables):
        """Pinot accepts a logical table whose schema has columns a physical table lacks (or types it differently);
        a query that uses such a column then fails on that table's servers. Said as a warning, naming both."""
        wanted = _columns(schema)
        schemas = self.client.get_many(["/schemas/" + quote(raw_name(table), safe="") for table in tables])
        for table, found in zip(tables, schemas, strict=True):
            have = _columns(found or {})
            missing = sorted(column for column in wanted if column not in have)
            differ = sorted(column for column in wanted if column in have and have[column] != wanted[column])
            if missing or differ:
                what = [f"no column {', '.join(missing)}"] if missing else []
                what += [f"{column} as {have[column]}, not {wanted[column]}" for column in differ]
                self.warnings.append(f"the schema of {table} has {'; '.join(what)}, unlike the schema '{self.name}' "
                                     "of the logical table: its queries that use these columns fail on that table")

    def stored_sections(self, desired, local):
        """`query` and `quota` as Pinot stores them: the same classes as in a table config, so the controller's
        /tables/validate is asked, with the live config of the first physical table of this cluster."""
        sections = {key: desired[key] for key in TABLE_SECTIONS if desired.get(key) is not None}
        if not sections or not local:
            return sections
        kind = table_type_of(local[0])
        found = self.client.get("/tables/" + quote(raw_name(local[0]), safe=""), params={"type": kind.lower()})
        probe = dict((found or {}).get(kind) or {})
        for key in TABLE_SECTIONS:
            probe.pop(key, None)
        probe.update(sections)
        try:
            verdict, warnings = stored_form(self.client, "/tables/validate", probe, "config",
                                            lambda answer: answer.get(kind) or {})
        except SpecError as exc:
            if exc.field == "config":  # refused outright: Pinot's reason names the field (not the probe's JSON)
                reason = exc.message.rpartition("Reason: ")[2].split("\n at [Source", 1)[0]
                raise SpecError(self.field(next(iter(sections))), f"Pinot refuses it: {reason}") from None
            fields = [self.field(*part.removeprefix("config.").split(".", 1)) for part in exc.field.split(", ")]
            raise SpecError(", ".join(fields), "not a property this Pinot version knows in a table's query or quota "
                            "config; Pinot would silently drop it") from None
        self.warnings.extend(warnings)
        return {key: verdict.get(key) for key in sections}

    def create(self, desired):
        self.client.post(PATH, body=desired)

    def update(self, desired, live):
        self.client.put(self.path, body=desired)

    def delete(self, live):
        self.client.delete(self.path)


def _columns(schema):
    """{column: data type} of a schema, every kind of field spec."""
    return {spec.get("name"): spec.get("dataType") for key, specs in schema.items() if key.endswith("FieldSpecs")
            for spec in specs or []}


def _check_definition(handler, config):
    """Pinot's own checks of a logical table that need no server, before any request; each names its field."""
    for key in config:
        if key not in OPTIONS:
            raise SpecError(handler.field(key), f"not a logical table property Pinot knows ({', '.join(OPTIONS)}); "
                            "Pinot would silently drop it")
    name = config["tableName"]
    if table_type_of(name):
        raise SpecError(handler.field("tableName"), f"'{name}' ends with {TYPE_SUFFIX[table_type_of(name)]}, "
                        "which Pinot keeps for physical tables")
    physical = config.get("physicalTableConfigMap")
    if not isinstance(physical, dict) or not physical:
        raise SpecError(handler.field("physicalTableConfigMap"), "must name at least one physical table")
    by_type = {kind: [] for kind in TABLE_TYPES}
    for table, entry in physical.items():
        if entry is not None and not isinstance(entry, dict):
            raise SpecError(handler.field("physicalTableConfigMap", table), "must be an object ({} for a table of "
                            "this cluster)")
        unknown = sorted(set(entry or {}) - {MULTI_CLUSTER})
        if unknown:
            raise SpecError(handler.field("physicalTableConfigMap", table) + f".{unknown[0]}", "not a property of a "
                            f"physical table Pinot knows (only {MULTI_CLUSTER}); Pinot would silently drop it")
        kind = table_type_of(table)
        if kind is None:
            raise SpecError(handler.field("physicalTableConfigMap", table), f"'{table}' must name the table with "
                            f"its type: {' or '.join('<table>' + suffix for suffix in TYPE_SUFFIX.values())}")
        by_type[kind].append(table)
    for kind, key in REF_KEYS.items():
        ref = config.get(key)
        if by_type[kind] and not ref:
            raise SpecError(handler.field(key), f"is required: the logical table has {kind} tables "
                            f"({', '.join(by_type[kind])}); name the one whose config Pinot uses for queries")
        if ref and ref not in by_type[kind]:
            given = f"one of {', '.join(by_type[kind])}" if by_type[kind] else "left out: there is none"
            raise SpecError(handler.field(key), f"'{ref}' is not one of the logical table's {kind} tables ("
                            f"{given})")
    if all(by_type.values()) and not config.get("timeBoundaryConfig"):
        raise SpecError(handler.field("timeBoundaryConfig"), "is required when the logical table has both OFFLINE "
                        "and REALTIME tables, e.g. {boundaryStrategy: min, parameters: {includedTables: [...]}}")
    boundary = config.get("timeBoundaryConfig")
    if boundary is not None:
        if not isinstance(boundary, dict) or not boundary.get("boundaryStrategy"):
            raise SpecError(handler.field("timeBoundaryConfig", "boundaryStrategy"), "is required")
        if not isinstance(boundary.get("parameters"), dict) or not boundary["parameters"]:
            raise SpecError(handler.field("timeBoundaryConfig", "parameters"), "must be a non-empty object")
    for key in TABLE_SECTIONS:
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise SpecError(handler.field(key), "must be an object")
    if (config.get("quota") or {}).get("storage"):
        raise SpecError(handler.field("quota", "storage"), "Pinot refuses a storage quota on a logical table (its "
                        "physical tables have their own)")


def _from_options(params):
    tables = params.get("physical_tables") or []
    duplicates = sorted({table for table in tables if tables.count(table) > 1})
    if duplicates:
        raise SpecError("physical_tables", f"names {', '.join(duplicates)} more than once")
    config = {"tableName": params["name"], "physicalTableConfigMap": {table: {} for table in tables}}
    for kind, key in REF_KEYS.items():
        option = OPTIONS[key]
        given = params.get(option)
        if given is None:  # the first table of that type, as listed
            given = next((table for table in tables if table_type_of(table) == kind), None)
        if given is not None:
            config[key] = given
    for key in ("brokerTenant", "timeBoundaryConfig", "query", "quota"):
        if params.get(OPTIONS[key]) is not None:
            config[key] = copy.deepcopy(params[OPTIONS[key]])
    return config


def build(client: PinotClient, params: dict[str, Any],
          check_mode: bool) -> tuple[LogicalTableHandler, dict[str, Any] | None]:
    """(handler, desired config); every check that needs no server first, naming the option."""
    definition = load_definition(params, "definition")
    given = [OPTIONS[key] for key in OPTIONS if key != "tableName" and params.get(OPTIONS[key]) is not None]
    if definition is not None and given:
        raise SpecError(given[0], "cannot be combined with definition or src: give the whole config there")
    if definition is not None and not isinstance(definition, dict):
        raise SpecError("definition", f"must be a JSON object, not {type(definition).__name__}")
    if definition is None and params.get("state") != "absent" and "physical_tables" not in given:
        raise SpecError("physical_tables", "is required (or definition, or src) with state=present")
    if definition is not None:
        name = name_in_definition(definition, "tableName", params.get("name"), "definition")
        if params.get("name") and params["name"] != name:
            raise SpecError("name", f"'{params['name']}' does not match definition.tableName '{name}'")
        handler = LogicalTableHandler(client, name, check_mode)
    else:
        name = params.get("name")
        if not name:
            raise SpecError("name", "is required")
        handler = LogicalTableHandler(client, name, check_mode, options=True,
                                      physical_order=params.get("physical_tables") or [])
        definition = _from_options(params) if "physical_tables" in given else None
    if definition is not None:
        _check_definition(handler, definition)
    return handler, definition


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    """One logical table (None when absent), or every one (each config read concurrently)."""
    if params.get("name"):
        return {"logical_table": LogicalTableHandler(client, params["name"]).read()}
    names = client.get(PATH, missing_ok=True)
    if names is None:
        raise unsupported(client)
    configs = client.get_many([f"{PATH}/{quote(name, safe='')}" for name in sorted(names)])
    return {"logical_tables": [config for config in configs if config is not None]}
