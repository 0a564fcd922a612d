# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot schemas: normalisation (what the controller rewrites on save), validation and writes."""

from __future__ import annotations

import copy
import math
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import (
    Handler,
    load_definition,
    name_in_definition,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reload import TableReload
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.stored_form import UNRECOGNIZED, stored_form
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import table_types

FIELD_LISTS = {
    "dimensionFieldSpecs": "DIMENSION",
    "metricFieldSpecs": "METRIC",
    "dateTimeFieldSpecs": "DATE_TIME",
    "complexFieldSpecs": "COMPLEX",
}
DATA_TYPES = frozenset((
    "INT", "LONG", "FLOAT", "DOUBLE", "BIG_DECIMAL", "BOOLEAN", "TIMESTAMP", "STRING", "JSON", "BYTES",
    "MAP", "LIST", "STRUCT",
))
NUMERIC_TYPES = frozenset(("INT", "LONG", "FLOAT", "DOUBLE", "BIG_DECIMAL"))
# Pinot's default null values (FieldSpec.DEFAULT_*_NULL_VALUE_OF_*); GET omits a defaultNullValue equal to these.
DIMENSION_DEFAULTS = {
    "INT": -2147483648.0, "LONG": -9223372036854775808.0, "FLOAT": -math.inf, "DOUBLE": -math.inf,
    "BIG_DECIMAL": 0.0, "BOOLEAN": False, "TIMESTAMP": 0.0, "STRING": "null", "JSON": "null", "BYTES": "",
}
METRIC_DEFAULTS = {"INT": 0.0, "LONG": 0.0, "FLOAT": 0.0, "DOUBLE": 0.0, "BIG_DECIMAL": 0.0, "BYTES": "",
                   "STRING": "null"}
DEFAULT_MAX_LENGTH = 512


def _as_number(value):
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _as_bool(value):
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, (int, float)):
        return bool(value)
    return value


def normalise_default_null(data_type: str | None, value: Any) -> Any:
    """One representation per type: numbers as floats, booleans as bools, epoch-0 timestamps as 0."""
    if data_type in NUMERIC_TYPES:
        return _as_number(value)
    if data_type == "BOOLEAN":
        return _as_bool(value)
    if data_type == "TIMESTAMP":
        number = _as_number(value)
        if isinstance(number, float):
            return number
        return 0.0 if str(value).startswith("1970-01-01 00:00:00") else value
    return value


def normalise_field(spec: dict[str, Any], field_type: str) -> dict[str, Any]:
    """Drop what the controller adds or omits when it equals Pinot's default."""
    field = dict(spec)
    field.pop("fieldType", None)
    if field.get("singleValueField") is True:
        del field["singleValueField"]
    if field.get("notNull") is False:
        del field["notNull"]
    if field.get("maxLength") == DEFAULT_MAX_LENGTH:
        del field["maxLength"]
    data_type = field.get("dataType")
    if "defaultNullValue" in field:
        value = normalise_default_null(data_type, field["defaultNullValue"])
        defaults = METRIC_DEFAULTS if field_type == "METRIC" else DIMENSION_DEFAULTS
        if data_type in defaults and value == defaults[data_type]:
            del field["defaultNullValue"]
        else:
            field["defaultNullValue"] = value
    return field


def normalise_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Comparable form of a schema, applied to both the desired and the live object."""
    result = {key: value for key, value in schema.items() if key not in FIELD_LISTS}
    if result.get("enableColumnBasedNullHandling") is False:
        del result["enableColumnBasedNullHandling"]
    if not result.get("primaryKeyColumns"):
        result.pop("primaryKeyColumns", None)
    for list_key, field_type in FIELD_LISTS.items():
        fields = [normalise_field(spec, field_type) for spec in schema.get(list_key) or []]
        if fields:
            # Schema.equals ignores field-spec order.
            result[list_key] = sorted(fields, key=lambda spec: str(spec.get("name")))
    for key in ("description", "tags"):
        if not result.get(key):
            result.pop(key, None)
    return result


def columns(schema: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (list key, field spec) for every column of a schema."""
    found = {}
    for list_key in FIELD_LISTS:
        for spec in schema.get(list_key) or []:
            found[spec.get("name")] = (list_key, spec)
    time_spec = schema.get("timeFieldSpec")
    if isinstance(time_spec, dict):
        incoming = time_spec.get("incomingGranularitySpec") or {}
        found[incoming.get("name")] = ("timeFieldSpec", incoming)
    return found


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Pinot's backward-compatibility rule (Schema.isBackwardCompatibleWith, plus primary keys on 1.5+)."""
    problems = []
    old_columns, new_columns = columns(old), columns(new)
    for name, (_list_key, spec) in sorted(old_columns.items(), key=lambda item: str(item[0])):
        if name not in new_columns:
            problems.append(f"column '{name}' removed")
            continue
        new_spec = new_columns[name][1]
        for key, default in (("dataType", None), ("singleValueField", True)):
            if spec.get(key, default) != new_spec.get(key, default):
                problems.append(f"column '{name}' {key} {spec.get(key, default)} -> {new_spec.get(key, default)}")
    old_pks = old.get("primaryKeyColumns") or []
    if old_pks and old_pks != (new.get("primaryKeyColumns") or []):
        problems.append(f"primaryKeyColumns {old_pks} -> {new.get('primaryKeyColumns') or []}")
    return problems


def validate_schema(schema, name):
    """Local checks whose failures name the field; the server's validate endpoint does the rest."""
    if not isinstance(schema, dict):
        raise SpecError("schema", f"must be a JSON object, not {type(schema).__name__}")
    schema_name = name_in_definition(schema, "schemaName", name, "schema")
    if name and name != schema_name:
        raise SpecError("name", f"'{name}' does not match schema.schemaName '{schema_name}'")
    if "__" in schema_name:
        raise SpecError("schema.schemaName", f"'{schema_name}' must not contain '__'")
    seen = set()
    for list_key in FIELD_LISTS:
        specs = schema.get(list_key, [])
        if not isinstance(specs, list):
            raise SpecError(f"schema.{list_key}", "must be a list of field specs")
        for index, spec in enumerate(specs):
            where = f"schema.{list_key}[{index}]"
            if not isinstance(spec, dict):
                raise SpecError(where, "must be an object")
            column = spec.get("name")
            if not isinstance(column, str) or not column or any(char.isspace() for char in column):
                raise SpecError(f"{where}.name", f"invalid column name {column!r}")
            if column in seen:
                raise SpecError(f"{where}.name", f"duplicate column '{column}'")
            seen.add(column)
            if not isinstance(spec.get("dataType"), str) or spec["dataType"] not in DATA_TYPES:
                raise SpecError(f"{where}.dataType",
                                f"{spec.get('dataType')!r} is not one of {', '.join(sorted(DATA_TYPES))}")
            if list_key == "dateTimeFieldSpecs":
                for key in ("format", "granularity"):
                    if not spec.get(key):
                        raise SpecError(f"{where}.{key}", "is required for a DATE_TIME column")
    primary_keys = schema.get("primaryKeyColumns") or []
    if not isinstance(primary_keys, list):
        raise SpecError("schema.primaryKeyColumns", "must be a list of column names")
    for index, column in enumerate(primary_keys):
        if not isinstance(column, str) or column not in seen:
            raise SpecError(f"schema.primaryKeyColumns[{index}]", f"'{column}' is not a column of the schema")
    return schema


def _unwrap_schema(verdict):
    """POST /schemas/validate answers the stored schema with `unrecognizedProperties` beside its keys."""
    stored = {key: value for key, value in verdict.items() if key != UNRECOGNIZED}
    return stored if "schemaName" in stored else None


class SchemaHandler(Handler):
    kind = "schema"

    def __init__(self, client, name, *, check_mode=False, force=False, reload=False, reload_timeout=300):
        super().__init__(client, name, check_mode)
        self.force = force
        self.reload = reload
        self.reload_timeout = reload_timeout

    @property
    def path(self):
        return "/schemas/" + quote(self.name, safe="")

    def read(self):
        return self.client.get(self.path, missing_ok=True)

    def normalise(self, obj):
        return normalise_schema(obj)

    def validate_with_server(self, desired, live):
        stored, warnings = stored_form(self.client, "/schemas/validate", desired, "schema", _unwrap_schema)
        self.warnings.extend(warnings)
        if live is not None and not self.force:
            problems = incompatibilities(live, desired)
            if problems:
                raise SpecError("schema", "backward-incompatible change to schema "
                                f"'{self.name}' ({'; '.join(problems)}); Pinot only allows adding columns "
                                "and changing defaults. Set force: true to apply it anyway.")
        return stored

    def create(self, desired):
        self.client.post("/schemas", body=desired, params={"override": "false"})

    def update(self, desired, live):
        params = {"reload": "false"}  # the reload follows, as jobs this module can follow to their end
        if self.force:
            params["force"] = "true"
        try:
            self.client.put(self.path, body=desired, params=params)
        except PinotError as exc:
            if exc.status == 400 and self.force:
                self._force_by_post(desired, exc)
            else:
                raise
        if self.reload:
            self._reload_tables()

    def _reload_tables(self):
        """Reload every segment of the tables the schema belongs to (those named like it) and wait for the jobs."""
        try:
            kinds = table_types(self.client, self.name)
        except SpecError:
            self.extra_result["reload"] = {"status": "skipped", "reason": f"no table is named '{self.name}'"}
            return
        reloads = [TableReload(self.client, self.name, kind).run(False, only_if_needed=False,
                                                                 timeout=self.reload_timeout)
                   for kind in kinds]
        self.extra_result["reload"] = {"status": "done", "reloads": reloads}

    def _force_by_post(self, desired, refused):
        """Pinot 1.0-1.3 take `force` only on POST /schemas; before 1.0 nothing can force a change."""
        try:
            self.client.post("/schemas", body=desired, params={"override": "true", "force": "true"})
        except PinotError as exc:
            if exc.status == 400:
                raise PinotError(refused.method, refused.path, refused.status,
                                 f"{refused.reason} (this Pinot version cannot force a backward-incompatible "
                                 "schema change: PUT takes force from 1.4, POST from 1.0)") from None
            raise

    def validate_delete(self, live):
        tables = self.client.get("/tables/" + quote(self.name, safe=""), missing_ok=True)
        if tables:  # 404 on 1.4+, {} before
            raise SpecError("state", f"schema '{self.name}' is still used by table(s) "
                            f"{', '.join(sorted(tables))} named '{self.name}'; delete them first")

    def delete(self, live):
        self.client.delete(self.path)


def build(client: PinotClient, params: dict[str, Any], check_mode: bool) -> tuple[SchemaHandler, dict[str, Any] | None]:
    desired = load_definition(params, "schema")
    if desired is None:
        if params["state"] == "present":
            raise SpecError("schema", "one of schema or src is required with state=present")
        if not params.get("name"):
            raise SpecError("name", "is required with state=absent")
        desired = {"schemaName": params["name"]}
    desired = validate_schema(copy.deepcopy(desired), params.get("name"))
    handler = SchemaHandler(client, desired["schemaName"], check_mode=check_mode, force=params.get("force", False),
                            reload=params.get("reload", False), reload_timeout=params.get("reload_timeout", 300))
    return handler, desired


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("name"):
        return {"schema": client.get("/schemas/" + quote(params["name"], safe=""), missing_ok=True)}
    names = sorted(client.get("/schemas") or [])
    found = client.get_many(["/schemas/" + quote(name, safe="") for name in names])
    return {"schemas": {name: schema for name, schema in zip(names, found, strict=True) if schema is not None}}
