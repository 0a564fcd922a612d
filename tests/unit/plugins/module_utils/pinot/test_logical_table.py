"""pinot_logical_table's handler on a scripted controller that stores logical tables as Pinot 1.5 does (no network)."""

import copy

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import logical_table as logical
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import reconcile

SCHEMA = {"schemaName": "orders", "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"}],
          "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG"}]}
TABLE = {"tableName": "orders_eu_OFFLINE", "tableType": "OFFLINE", "segmentsConfig": {"replication": "1"}}


class Controller(PinotClient):
    """The controller's answers that pinot_logical_table reads and writes; `supported=False` is a Pinot 1.3."""

    def __init__(self, supported=True, version="1.5.1-abc"):
        super().__init__("http://pinot.invalid")
        self.supported = supported
        self.version = version
        self.logical = {}
        self.schemas = {name: dict(copy.deepcopy(SCHEMA), schemaName=name)
                        for name in ("orders", "orders_eu", "orders_us")}
        self.tables = {"orders_eu_OFFLINE", "orders_us_OFFLINE", "orders_live_REALTIME"}
        self.broker_tenants = {"DefaultTenant"}
        self.gets = []

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "GET" or read_only:
            self.gets.append(path)
            return self.answer(method, path, params or {}, body)
        self.executed_requests.append(f"{method} {path}")
        name = path.rsplit("/", 1)[1]
        if method == "DELETE":
            del self.logical[name]
        else:  # what Pinot 1.5 stores: the broker tenant filled in, multiCluster in each entry, quota normalised
            stored = copy.deepcopy(body)
            stored["brokerTenant"] = stored.get("brokerTenant") or "DefaultTenant"
            stored["physicalTableConfigMap"] = {table: dict(entry, multiCluster=entry.get("multiCluster", False))
                                                for table, entry in stored["physicalTableConfigMap"].items()}
            if "quota" in stored:
                stored["quota"] = _quota(stored["quota"])
            self.logical[body["tableName"]] = stored
        return {"status": "ok", "unrecognizedProperties": {}}

    def answer(self, method, path, params, body):
        if path == "/version":
            return {"pinot-controller": self.version, "pinot-broker": self.version}
        if path.startswith("/logicalTables") and not self.supported:
            return None
        if path == "/logicalTables":
            return sorted(self.logical)
        if path.startswith("/logicalTables/"):
            return copy.deepcopy(self.logical.get(path.rsplit("/", 1)[1]))
        if path.startswith("/schemas/"):
            return self.schemas.get(path.rsplit("/", 1)[1])
        if path == "/tables":
            suffix = "_" + params["type"].upper()
            return {"tables": sorted(table for table in self.tables if table.endswith(suffix))}
        if path == "/tables/validate":
            unknown = {f"/query/{key}": value for key, value in (body.get("query") or {}).items()
                       if key not in ("timeoutMs", "disableGroovy")}
            answer = copy.deepcopy(body)
            if "quota" in answer:
                answer["quota"] = _quota(answer["quota"])
            return {body["tableType"]: answer, "unrecognizedProperties": unknown}
        if path.startswith("/tables/"):
            return {"OFFLINE": dict(TABLE, tableName=path.rsplit("/", 1)[1] + "_OFFLINE")}
        if path.startswith("/tenants/"):
            return {"BrokerInstances": ["b"]} if path.rsplit("/", 1)[1] in self.broker_tenants else None
        raise AssertionError(f"unexpected {method} {path}")


def _quota(quota):
    return {key: str(float(value)) if key == "maxQueriesPerSecond" else value for key, value in quota.items()}


def _params(**params):
    return dict({"name": "orders", "physical_tables": None, "ref_offline_table": None, "ref_realtime_table": None,
                 "broker_tenant": None, "time_boundary": None, "query": None, "quota": None, "definition": None,
                 "src": None, "state": "present"}, **params)


def _run(client, check_mode=False, **params):
    params = _params(**params)
    handler, desired = logical.build(client, params, check_mode)
    return reconcile(handler, desired, params["state"], check_mode)


TWO = ["orders_eu_OFFLINE", "orders_us_OFFLINE"]


def test_create_over_two_tables_then_nothing_to_write():
    client = Controller()
    predicted = _run(client, check_mode=True, physical_tables=TWO, quota={"maxQueriesPerSecond": "100"})
    assert (predicted["changed"], client.executed_requests, client.logical) == (True, [], {})
    assert predicted["after"]["quota"] == {"maxQueriesPerSecond": "100.0"}  # as /tables/validate stores it

    created = _run(client, physical_tables=TWO, quota={"maxQueriesPerSecond": "100"})
    assert (created["changed"], created["warnings"]) == (True, [])
    assert client.executed_requests == ["POST /logicalTables"]
    stored = client.logical["orders"]
    assert stored["refOfflineTableName"] == "orders_eu_OFFLINE"  # the first OFFLINE table listed
    assert "refRealtimeTableName" not in stored
    assert created["after"] == predicted["after"]

    again = _run(client, physical_tables=TWO, quota={"maxQueriesPerSecond": "100"})
    assert (again["changed"], client.executed_requests) == (False, ["POST /logicalTables"])


def test_a_table_less_is_an_update_and_removal_deletes():
    client = Controller()
    _run(client, physical_tables=TWO)
    shrunk = _run(client, physical_tables=["orders_us_OFFLINE"])
    assert shrunk["changes"] == ["physicalTableConfigMap.orders_eu_OFFLINE (removed)", "refOfflineTableName"]
    assert client.executed_requests[-1] == "PUT /logicalTables/orders"
    assert client.logical["orders"]["refOfflineTableName"] == "orders_us_OFFLINE"

    removed = _run(client, state="absent")
    assert (removed["changed"], client.executed_requests[-1], client.logical) == (
        True, "DELETE /logicalTables/orders", {})
    gone = _run(client, state="absent")
    assert (gone["changed"], len(client.executed_requests)) == (False, 3)


@pytest.mark.parametrize(("params", "field"), [
    ({"name": "orders_OFFLINE", "physical_tables": TWO}, "name"),
    ({"physical_tables": ["orders_eu_OFFLINE", "orders_us"]}, "physical_tables[1]"),
    ({"physical_tables": TWO + TWO[:1]}, "physical_tables"),
    ({"physical_tables": TWO, "ref_offline_table": "orders_live_REALTIME"}, "ref_offline_table"),
    ({"physical_tables": TWO, "ref_realtime_table": "orders_live_REALTIME"}, "ref_realtime_table"),
    ({"physical_tables": TWO + ["orders_live_REALTIME"]}, "time_boundary"),
    ({"physical_tables": TWO + ["orders_live_REALTIME"], "time_boundary": {"boundaryStrategy": "min"}},
     "time_boundary.parameters"),
    ({"physical_tables": TWO, "quota": {"storage": "1G"}}, "quota.storage"),
    ({"physical_tables": []}, "physical_tables"),
    ({}, "physical_tables"),
    ({"definition": {"tableName": "orders"}, "broker_tenant": "b"}, "broker_tenant"),
    ({"definition": {"tableName": "orders", "physicalTableConfigMap": {"orders_eu_OFFLINE": {}},
                     "refOfflineTableName": "orders_eu_OFFLINE", "bogus": 1}}, "definition.bogus"),
    ({"definition": {"tableName": "orders", "physicalTableConfigMap": {"orders_eu": {}}}},
     "definition.physicalTableConfigMap.orders_eu"),
    ({"name": "other", "definition": {"tableName": "orders"}}, "name"),
])
def test_bad_input_names_the_field_before_any_request(params, field):
    client = Controller()
    with pytest.raises(SpecError) as caught:
        _run(client, **params)
    assert caught.value.field == field, caught.value
    assert (client.executed_requests, client.gets) == ([], [])


@pytest.mark.parametrize(("change", "params", "field", "words"), [
    (lambda c: c.schemas.pop("orders"), {}, "name", "schema named 'orders'"),
    (lambda c: c.tables.discard("orders_us_OFFLINE"), {}, "physical_tables[1]", "no OFFLINE table 'orders_us'"),
    (lambda c: None, {"broker_tenant": "nope"}, "broker_tenant", "broker tenant 'nope'"),
    (lambda c: None, {"name": "orders_eu"}, "name", "is a physical table"),
    (lambda c: None, {"query": {"timeoutMs": 5, "bogus": 1}}, "query.bogus", "silently drop"),
])
def test_what_the_controller_would_refuse_is_refused_before_the_write(change, params, field, words):
    client = Controller()
    change(client)
    with pytest.raises(SpecError) as caught:
        _run(client, **dict({"physical_tables": TWO}, **params))
    assert caught.value.field == field and words in caught.value.message, caught.value
    assert client.executed_requests == []


def test_a_definition_names_its_own_fields():
    client = Controller()
    client.tables.discard("orders_us_OFFLINE")
    definition = {"tableName": "orders", "refOfflineTableName": "orders_eu_OFFLINE",
                  "physicalTableConfigMap": {"orders_eu_OFFLINE": {}, "orders_us_OFFLINE": {}}}
    with pytest.raises(SpecError) as caught:
        _run(client, name=None, definition=definition)
    assert caught.value.field == "definition.physicalTableConfigMap.orders_us_OFFLINE"
    del definition["physicalTableConfigMap"]["orders_us_OFFLINE"]
    assert _run(client, name=None, definition=definition)["changed"] is True
    assert _run(client, name=None, definition=definition)["changed"] is False
    assert client.executed_requests == ["POST /logicalTables"]


def test_a_column_the_physical_tables_lack_is_a_warning():
    client = Controller()
    client.schemas["orders"]["dimensionFieldSpecs"].append({"name": "region", "dataType": "STRING"})
    client.schemas["orders_us"] = dict(SCHEMA, dimensionFieldSpecs=[{"name": "id", "dataType": "INT"}])
    result = _run(client, physical_tables=TWO)
    assert result["changed"] is True
    assert [warning.split(",")[0] for warning in result["warnings"]] == [
        "the schema of orders_eu_OFFLINE has no column region",
        "the schema of orders_us_OFFLINE has no column region; id as INT"]


def test_a_version_without_logical_tables_is_named():
    client = Controller(supported=False, version="1.3.0-0123abc")
    with pytest.raises(SpecError) as caught:
        _run(client, physical_tables=TWO)
    assert "Pinot 1.3.0 has no logical tables" in str(caught.value) and "1.4" in str(caught.value)
    with pytest.raises(SpecError, match="Pinot 1.3.0 has no logical tables"):
        logical.read_info(client, {"name": None})
    assert client.executed_requests == []


def test_read_info_one_or_every():
    client = Controller()
    _run(client, physical_tables=TWO)
    assert logical.read_info(client, {"name": "orders"})["logical_table"]["tableName"] == "orders"
    assert logical.read_info(client, {"name": "missing"}) == {"logical_table": None}
    assert [item["tableName"] for item in logical.read_info(client, {"name": None})["logical_tables"]] == ["orders"]


def _remote(table="orders_far_OFFLINE"):
    return {"tableName": "orders", "refOfflineTableName": "orders_eu_OFFLINE",
            "physicalTableConfigMap": {"orders_eu_OFFLINE": {}, table: {"multiCluster": True}}}


def test_a_table_of_another_cluster_is_not_looked_for_here_from_pinot_1_5():
    client = Controller()
    assert _run(client, name=None, definition=_remote())["changed"] is True
    assert client.logical["orders"]["physicalTableConfigMap"]["orders_far_OFFLINE"] == {"multiCluster": True}
    assert _run(client, name=None, definition=_remote())["changed"] is False


def test_pinot_1_4_has_no_tables_of_other_clusters():
    client = Controller(version="1.4.0-3a56c9d")
    with pytest.raises(SpecError) as caught:
        _run(client, name=None, definition=_remote())
    assert caught.value.field == "definition.physicalTableConfigMap.orders_far_OFFLINE.multiCluster"
    assert "Pinot 1.4.0 has no physical tables of other clusters" in caught.value.message
    with pytest.raises(SpecError) as caught:
        _run(client, name=None, definition=dict(_remote(), physicalTableConfigMap={"orders_eu_OFFLINE": {"x": 1}}))
    assert caught.value.field == "definition.physicalTableConfigMap.orders_eu_OFFLINE.x"
    assert client.executed_requests == []
