"""pinot_logical_table and pinot_logical_table_info against the real Pinot of each tested version (1.4 and later).

Two OFFLINE tables of this test (3 and 6 rows), a schema named like the logical table, and the logical table over
both: the broker answers COUNT(*) of the logical table with the sum of the two.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import requests

from tests.support.examples import Runner, assert_ok, examples, modules_run_by
from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import id_ts_schema, offline_table, row_counts

pytestmark = pytest.mark.integration


def logical_module(pinot, check=False, **args):
    return run_module("pinot_logical_table", dict(controller_url=pinot.controller_url, **args), check=check,
                      diff=True)


def stored(pinot, name):
    found = requests.get(f"{pinot.controller_url}/logicalTables/{name}", timeout=10)
    if found.status_code == 404:
        return None
    found.raise_for_status()
    return found.json()


def rows(pinot, table):
    counted = row_counts(pinot, table)
    return counted and counted[0]


@pytest.fixture
def tables(pinot):
    """(logical name, [its two OFFLINE tables]): the tables with 3 and 6 rows, the schema of the logical name; the
    logical table (should the test leave it), the schema and the tables are removed afterwards."""
    name = "lgt_" + secrets.token_hex(3)
    url = pinot.controller_url
    with offline_table(pinot, prefix=name + "_a") as first, offline_table(pinot, prefix=name + "_b",
                                                                          segments=2) as second:
        requests.post(f"{url}/schemas", json=id_ts_schema(name), timeout=30).raise_for_status()
        try:
            yield name, [f"{first}_OFFLINE", f"{second}_OFFLINE"]
        finally:  # Pinot refuses to delete a table a logical table names, and a schema it uses
            requests.delete(f"{url}/logicalTables/{name}", timeout=30)
            requests.delete(f"{url}/schemas/{name}", timeout=30)


@pytest.mark.every_version
def test_logical_table_lifecycle_answers_the_sum_of_its_tables(pinot, tables, tmp_path):
    name, physical = tables
    wanted = dict(name=name, physical_tables=physical, query={"timeoutMs": 20000},
                  quota={"maxQueriesPerSecond": "50"})
    predicted = logical_module(pinot, check=True, **wanted)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["diff"]["before"] == {}
    assert sorted(predicted["diff"]["after"]["physicalTableConfigMap"]) == physical
    assert stored(pinot, name) is None

    created = logical_module(pinot, **wanted)
    assert created["executed_requests"] == ["POST /logicalTables"]
    assert not created.get("warnings"), created["warnings"]
    live = stored(pinot, name)
    assert sorted(live["physicalTableConfigMap"]) == physical
    assert (live["refOfflineTableName"], live["brokerTenant"]) == (physical[0], "DefaultTenant")
    assert live["quota"] == {"maxQueriesPerSecond": "50.0"}  # Pinot's form, predicted: no warning, no change
    assert created["diff"]["after"]["quota"] == live["quota"]
    again = logical_module(pinot, **wanted)
    assert (again["changed"], again["executed_requests"]) == (False, [])

    counts = [wait_until(f"rows of {table}", lambda table=table: rows(pinot, table.rsplit("_", 1)[0]))
              for table in physical]
    assert counts == [3, 6]
    wait_until("the logical table to answer the sum", lambda: rows(pinot, name) == sum(counts))

    # The whole config from a file: the second table left out (and query, quota cleared).
    src = tmp_path / "logical.json"
    src.write_text(json.dumps({"tableName": name, "physicalTableConfigMap": {physical[0]: {}},
                               "refOfflineTableName": physical[0]}))
    shrink = logical_module(pinot, check=True, src=str(src))
    assert shrink["changed"] and shrink["executed_requests"] == []
    assert sorted(shrink["changes"]) == [f"physicalTableConfigMap.{physical[1]} (removed)", "query (removed)",
                                         "quota (removed)"]
    assert list(shrink["diff"]["before"]["physicalTableConfigMap"]) != list(
        shrink["diff"]["after"]["physicalTableConfigMap"])
    assert sorted(stored(pinot, name)["physicalTableConfigMap"]) == physical  # check mode wrote nothing
    shrunk = logical_module(pinot, src=str(src))
    assert shrunk["executed_requests"] == [f"PUT /logicalTables/{name}"]
    assert list(stored(pinot, name)["physicalTableConfigMap"]) == [physical[0]]
    assert logical_module(pinot, src=str(src))["executed_requests"] == []
    wait_until("the logical table to answer the first table's rows", lambda: rows(pinot, name) == counts[0])

    info = run_module("pinot_logical_table_info", {"controller_url": pinot.controller_url, "name": name})
    assert info["logical_table"] == stored(pinot, name)
    listing = run_module("pinot_logical_table_info", {"controller_url": pinot.controller_url})
    assert name in [item["tableName"] for item in listing["logical_tables"]]

    removed = logical_module(pinot, name=name, state="absent")
    assert removed["executed_requests"] == [f"DELETE /logicalTables/{name}"]
    assert stored(pinot, name) is None
    gone = logical_module(pinot, name=name, state="absent")
    assert (gone["changed"], gone["executed_requests"]) == (False, [])


@pytest.mark.every_version
def test_bad_input_names_the_field_and_writes_nothing(pinot, tables):
    name, physical = tables
    cases = [  # (options, field, words of the message)
        (dict(name=name, physical_tables=[physical[0], f"{name}_nope_OFFLINE"]), "physical_tables[1]",
         "no OFFLINE table"),
        (dict(name=name, physical_tables=physical, quota={"storage": "1G"}), "quota.storage", "storage quota"),
        (dict(name=name, physical_tables=physical, query={"timeoutMs": 5, "timeoutMillis": 5}),
         "query.timeoutMillis", "silently drop"),
        (dict(name=name, physical_tables=[physical[0].removesuffix("_OFFLINE")]), "physical_tables[0]",
         "with its type"),
        (dict(name=name + "x", physical_tables=physical), "name", f"schema named '{name}x'"),
        (dict(name=name, physical_tables=physical, broker_tenant="nope"), "broker_tenant", "broker tenant 'nope'"),
    ]
    for args, field, words in cases:
        result = logical_module(pinot, **args)
        assert (result.get("failed"), result.get("field")) == (True, field), result["msg"]
        assert words in result["msg"] and result["executed_requests"] == [], result
    assert stored(pinot, name) is None and stored(pinot, name + "x") is None


@pytest.mark.every_version
def test_a_table_of_another_cluster_needs_pinot_1_5(pinot, pinot_version, tables):
    """Pinot 1.5 names a physical table of another cluster with multiCluster (not looked for here); 1.4 drops the
    key and looks for the table: the module refuses it there, naming the version."""
    name, physical = tables
    far = f"{name}_far_OFFLINE"
    definition = {"tableName": name, "refOfflineTableName": physical[0],
                  "physicalTableConfigMap": {physical[0]: {}, far: {"multiCluster": True}}}
    result = logical_module(pinot, definition=definition)
    if pinot_version.startswith("1.4."):
        assert (result.get("failed"), result["executed_requests"]) == (True, []), result
        assert result["field"] == f"definition.physicalTableConfigMap.{far}.multiCluster"
        assert f"Pinot {pinot_version} has no physical tables of other clusters" in result["msg"]
        assert stored(pinot, name) is None
        return
    assert result["executed_requests"] == ["POST /logicalTables"] and not result.get("warnings"), result
    assert stored(pinot, name)["physicalTableConfigMap"][far] == {"multiCluster": True}
    assert logical_module(pinot, definition=definition)["executed_requests"] == []


@pytest.fixture
def orders(pinot):
    """The tables the examples name: orders_eu and orders_us (OFFLINE, no rows) and the schema orders."""
    url = pinot.controller_url
    names = ["orders_eu", "orders_us"]
    for table in names:
        requests.post(f"{url}/schemas", json=id_ts_schema(table), timeout=30).raise_for_status()
        requests.post(f"{url}/tables", timeout=60, json={
            "tableName": table, "tableType": "OFFLINE", "tenants": {}, "metadata": {}, "tableIndexConfig": {},
            "segmentsConfig": {"schemaName": table, "timeColumnName": "ts", "replication": "1"},
        }).raise_for_status()
    requests.post(f"{url}/schemas", json=id_ts_schema("orders"), timeout=30).raise_for_status()
    try:
        yield names
    finally:
        requests.delete(f"{url}/logicalTables/orders", timeout=30)
        requests.delete(f"{url}/schemas/orders", timeout=30)
        for table in names:
            requests.delete(f"{url}/tables/{table}", params={"type": "offline"}, timeout=60)
            requests.delete(f"{url}/schemas/{table}", timeout=30)


def test_examples_run_as_written(pinot, orders, tmp_path: Path):
    runner = Runner(tmp_path, pinot.controller_url)
    created = runner.run("pinot_logical_table", "One table name over the orders of two regions")
    assert_ok(created, changed=True)
    assert created["executed_requests"] == ["POST /logicalTables"]
    assert sorted(stored(pinot, "orders")["physicalTableConfigMap"]) == ["orders_eu_OFFLINE", "orders_us_OFFLINE"]
    one = runner.run("pinot_logical_table_info", "The logical table orders")
    assert_ok(one, changed=False)
    assert one["logical_table"]["query"] == {"timeoutMs": 20000}
    every = runner.run("pinot_logical_table_info", "Every logical table")
    assert "orders" in [item["tableName"] for item in every["logical_tables"]]
    removed = runner.run("pinot_logical_table", "Remove the logical table (its physical tables stay)")
    assert_ok(removed, changed=True)
    assert stored(pinot, "orders") is None
    assert runner.ran == {(module, task) for module in modules_run_by(Path(__file__).name) for task in examples(module)}
