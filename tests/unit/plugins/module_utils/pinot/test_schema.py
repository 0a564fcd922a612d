import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.schema import (
    incompatibilities,
    normalise_schema,
    validate_schema,
)

DESIRED = {
    "schemaName": "events",
    "dimensionFieldSpecs": [
        {"name": "country", "dataType": "STRING"},
        {"name": "city", "dataType": "STRING", "defaultNullValue": "unknown"},
    ],
    "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG", "defaultNullValue": "0"}],
    "dateTimeFieldSpecs": [
        {"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:TIMESTAMP", "granularity": "1:MILLISECONDS"}
    ],
}

# What Pinot 1.4 returns for DESIRED: field types added, defaults omitted, order of its own.
STORED_1_4 = {
    "schemaName": "events",
    "enableColumnBasedNullHandling": False,
    "dimensionFieldSpecs": [
        {"name": "city", "dataType": "STRING", "fieldType": "DIMENSION", "defaultNullValue": "unknown"},
        {"name": "country", "dataType": "STRING", "fieldType": "DIMENSION"},
    ],
    "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG", "fieldType": "METRIC"}],
    "dateTimeFieldSpecs": [
        {"name": "ts", "dataType": "TIMESTAMP", "fieldType": "DATE_TIME", "format": "1:MILLISECONDS:TIMESTAMP",
         "granularity": "1:MILLISECONDS"}
    ],
}


def test_stored_schema_normalises_to_the_desired_one():
    assert normalise_schema(STORED_1_4) == normalise_schema(DESIRED)


def test_a_real_difference_survives_normalisation():
    stored = dict(STORED_1_4, metricFieldSpecs=[{"name": "clicks", "dataType": "LONG", "defaultNullValue": 5}])
    assert normalise_schema(stored) != normalise_schema(DESIRED)


@pytest.mark.parametrize(("data_type", "field_list", "value"), [
    ("INT", "dimensionFieldSpecs", -2147483648),
    ("LONG", "dimensionFieldSpecs", "-9223372036854775808"),
    ("BOOLEAN", "dimensionFieldSpecs", "false"),
    ("DOUBLE", "metricFieldSpecs", 0),
    ("STRING", "dimensionFieldSpecs", "null"),
])
def test_default_null_values_are_folded(data_type, field_list, value):
    schema = {"schemaName": "s", field_list: [{"name": "c", "dataType": data_type, "defaultNullValue": value}]}
    assert "defaultNullValue" not in normalise_schema(schema)[field_list][0]


def test_incompatible_changes_are_listed():
    new = {"schemaName": "events", "dimensionFieldSpecs": [{"name": "country", "dataType": "INT"}]}
    problems = incompatibilities(STORED_1_4, new)
    assert "column 'city' removed" in problems
    assert "column 'country' dataType STRING -> INT" in problems
    assert incompatibilities(STORED_1_4, DESIRED) == []


@pytest.mark.parametrize(("schema", "name", "field"), [
    ({"schemaName": "a__b"}, None, "schema.schemaName"),
    ({"schemaName": "x"}, "y", "name"),
    ({"schemaName": "x", "dimensionFieldSpecs": [{"name": "c", "dataType": "TEXT"}]}, None,
     "schema.dimensionFieldSpecs[0].dataType"),
    ({"schemaName": "x", "dimensionFieldSpecs": [{"name": "bad col", "dataType": "INT"}]}, None,
     "schema.dimensionFieldSpecs[0].name"),
    ({"schemaName": "x", "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "EPOCH"}]}, None,
     "schema.dateTimeFieldSpecs[0].granularity"),
    ({"schemaName": "x", "primaryKeyColumns": ["id"]}, None, "schema.primaryKeyColumns[0]"),
    ({}, None, "schema.schemaName"),
])
def test_bad_schemas_name_the_field(schema, name, field):
    with pytest.raises(SpecError) as raised:
        validate_schema(schema, name)
    assert raised.value.field == field
