"""pinot_table and pinot_table_info against the real Pinot controller of each tested version."""

import copy
import uuid

import pytest

from tests.support.modules import run_module

pytestmark = pytest.mark.integration


@pytest.fixture
def table_name(pinot):
    name = "t_" + uuid.uuid4().hex[:8]
    yield name
    for module, args in (("pinot_table", {"name": name, "table_type": "OFFLINE", "state": "absent",
                                          "delete_retention": "0d"}),
                         ("pinot_schema", {"name": name, "state": "absent"})):
        run_module(module, dict(args, controller_url=pinot.controller_url))


def offline_config(name, **segments):
    return {
        "tableName": name,
        "tableType": "OFFLINE",
        "segmentsConfig": dict({"timeColumnName": "ts", "replication": 1, "retentionTimeUnit": "DAYS",
                                "retentionTimeValue": 30}, **segments),
        "tenants": {},
        "tableIndexConfig": {"invertedIndexColumns": ["country"], "loadMode": "MMAP"},
        "metadata": {},
    }


def table_module(pinot, check=False, **args):
    return run_module("pinot_table", dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def create_schema(pinot, name):
    result = run_module("pinot_schema", {"controller_url": pinot.controller_url, "schema": {
        "schemaName": name,
        "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"}],
        "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG"}],
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                "granularity": "1:MILLISECONDS"}],
    }})
    assert result["changed"] is True, result


def live_table(pinot, name):
    return run_module("pinot_table_info", {"controller_url": pinot.controller_url, "name": name})["table"]


def test_table_needs_its_schema(pinot, table_name):
    result = table_module(pinot, table=offline_config(table_name))
    assert result["failed"] is True
    assert result["field"] == "table.tableName"
    assert "no schema named" in result["msg"]
    assert result["executed_requests"] == []


@pytest.mark.every_version
def test_create_noop_update_delete(pinot, table_name):
    create_schema(pinot, table_name)
    desired = offline_config(table_name)

    predicted = table_module(pinot, table=desired, check=True)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert live_table(pinot, table_name) == {}

    created = table_module(pinot, table=desired)
    assert created["changed"] is True
    assert created["executed_requests"] == ["POST /tables"]
    assert created["table"]["tableName"] == f"{table_name}_OFFLINE"
    assert created.get("warnings") is None, created["warnings"]

    again = table_module(pinot, table=desired)
    assert (again["changed"], again["executed_requests"]) == (False, [])

    changed = offline_config(table_name, replication=2)
    predicted = table_module(pinot, table=changed, check=True)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["changes"] == ["segmentsConfig.replication"]
    assert predicted["diff"]["before"]["segmentsConfig"]["replication"] == "1"
    assert predicted["diff"]["after"]["segmentsConfig"]["replication"] == "2"

    updated = table_module(pinot, table=changed, rebalance={"min_available_replicas": 0})
    assert updated["executed_requests"][0] == f"PUT /tables/{table_name}"
    assert updated["rebalance"]["status"] in ("NO_OP", "DONE"), updated["rebalance"]
    assert live_table(pinot, table_name)["OFFLINE"]["segmentsConfig"]["replication"] == "2"
    assert table_module(pinot, table=changed)["changed"] is False

    # A key removed from the definition is removed from the live table.
    trimmed = copy.deepcopy(changed)
    del trimmed["tableIndexConfig"]["invertedIndexColumns"]
    removed = table_module(pinot, table=trimmed)
    assert removed["changes"] == ["tableIndexConfig.invertedIndexColumns (removed)"]
    assert table_module(pinot, table=trimmed)["changed"] is False

    deleted = table_module(pinot, name=table_name, table_type="OFFLINE", state="absent")
    assert deleted["executed_requests"] == [f"DELETE /tables/{table_name}?type=offline"]
    # Re-creating right after a delete meets Pinot's transient 409 while the external view drains.
    recreated = table_module(pinot, table=desired)
    assert recreated["changed"] is True, recreated


def test_schema_delete_refused_while_table_uses_it(pinot, table_name):
    create_schema(pinot, table_name)
    table_module(pinot, table=offline_config(table_name))
    refused = run_module("pinot_schema", {"controller_url": pinot.controller_url, "name": table_name,
                                          "state": "absent"})
    assert refused["failed"] is True
    assert f"'{table_name}'" in refused["msg"] and "delete them first" in refused["msg"]
    assert refused["executed_requests"] == []


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda t: t["segmentsConfig"].update(replicationFactor=3), "table.segmentsConfig.replicationFactor"),
    (lambda t: t.update(tableType="BATCH"), "table.tableType"),
    (lambda t: t["tenants"].update(server="nosuchtenant"), "table.tenants.server"),
])
def test_bad_input_names_the_field_and_writes_nothing(pinot, table_name, mutate, field):
    create_schema(pinot, table_name)
    desired = offline_config(table_name)
    mutate(desired)
    result = table_module(pinot, table=desired)
    assert result["failed"] is True
    assert result["msg"].startswith(field), result["msg"]
    assert result["executed_requests"] == []
    assert live_table(pinot, table_name) == {}
