"""pinot_tenant and pinot_tenant_info against the real Pinot controller of each tested version.

The shared test bed tags every instance into DefaultTenant, as a default Pinot cluster does; tests that move a
server restore its tags afterwards so other tests keep two DefaultTenant servers.
"""

import pytest
import requests

from tests.support.modules import run_module

pytestmark = pytest.mark.integration


@pytest.fixture
def second_server(pinot):
    """The name of the second server; its DefaultTenant tags are restored after the test."""
    servers = sorted(name for name in requests.get(pinot.controller_url + "/instances", timeout=10).json()["instances"]
                     if name.startswith("Server_"))
    assert len(servers) == 2, servers
    yield servers[1]
    response = requests.put(f"{pinot.controller_url}/instances/{servers[1]}/updateTags",
                            params={"tags": "DefaultTenant_OFFLINE,DefaultTenant_REALTIME"}, timeout=10)
    response.raise_for_status()


def tenant_module(pinot, check=False, **args):
    return run_module("pinot_tenant", dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def test_count_based_tenant_explains_missing_capacity(pinot):
    result = tenant_module(pinot, name="nocapacity", role="SERVER", instance_count=1)
    assert result["failed"] is True
    assert result["field"] == "instance_count"
    assert "needs 1 more untagged live server instance(s) but 0 are available" in result["msg"]
    assert "DefaultTenant_OFFLINE" in result["msg"]
    assert result["executed_requests"] == []


@pytest.mark.every_version
def test_named_instances_then_count_based_tenant(pinot, second_server):
    predicted = tenant_module(pinot, name="hot", role="SERVER", instances=[second_server], check=True)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["diff"]["after"]["instanceNames"] == [second_server]

    placed = tenant_module(pinot, name="hot", role="SERVER", instances=[second_server])
    assert placed["changed"] is True
    assert placed["executed_requests"] == [
        f"PUT /instances/{second_server}/updateTags?tags=hot_OFFLINE,hot_REALTIME"]
    assert placed["tenant"]["instances"] == [second_server]
    again = tenant_module(pinot, name="hot", role="SERVER", instances=[second_server])
    assert (again["changed"], again["executed_requests"]) == (False, [])

    removed = tenant_module(pinot, name="hot", role="SERVER", state="absent")
    assert removed["executed_requests"] == ["DELETE /tenants/hot?type=SERVER"]
    missing = tenant_module(pinot, name="hot", role="SERVER", state="absent")
    assert (missing["changed"], missing["executed_requests"]) == (False, [])

    # The server is untagged now, so Pinot itself can pick it for a tenant by count. (OFFLINE only: Pinot
    # 0.11 fails to co-locate a one-server tenant with "Index 1 out of bounds".)
    by_count = dict(name="warm", role="SERVER", instance_count=1, realtime_instances=0)
    created = tenant_module(pinot, **by_count)
    assert created["executed_requests"] == ["POST /tenants"], created
    assert created["tenant"]["instances"] == [second_server]
    assert created["tenant"]["realtimeInstances"] == []
    assert tenant_module(pinot, **by_count)["changed"] is False
    no_capacity = tenant_module(pinot, name="warm", role="SERVER", instance_count=2, realtime_instances=0)
    assert no_capacity["failed"] is True and no_capacity["field"] == "instance_count"
    listing = run_module("pinot_tenant_info", {"controller_url": pinot.controller_url})
    assert "warm" in listing["tenants"]["SERVER"]
    assert tenant_module(pinot, name="warm", role="SERVER", state="absent")["changed"] is True


def test_bulk_tenants_move_an_instance_in_one_task(pinot, second_server):
    """hot takes the second server from DefaultTenant, which the later definition shrinks to the first server:
    the second server is tagged once and not untagged again by DefaultTenant's (earlier) read."""
    first_server = sorted(name for name in requests.get(pinot.controller_url + "/instances", timeout=10).json()[
        "instances"] if name.startswith("Server_"))[0]
    definitions = [{"name": "hot", "role": "SERVER", "instances": [second_server]},
                   {"name": "DefaultTenant", "role": "SERVER", "instances": [first_server]},
                   {"name": "retired", "role": "BROKER", "state": "absent"}]
    predicted = tenant_module(pinot, definitions=definitions, check=True)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert [(r["name"], r["role"], r["changed"]) for r in predicted["results"]] == [
        ("hot", "SERVER", True), ("DefaultTenant", "SERVER", True), ("retired", "BROKER", False)]
    assert predicted["diff"]["after"]["hot SERVER"]["instanceNames"] == [second_server]
    assert predicted["diff"]["before"]["DefaultTenant SERVER"]["numberOfInstances"] == 2

    applied = tenant_module(pinot, definitions=definitions)
    assert applied["changed"] is True
    assert applied["executed_requests"] == [
        f"PUT /instances/{second_server}/updateTags?tags=hot_OFFLINE,hot_REALTIME"]
    assert [r["changes"] for r in applied["results"]] == [
        predicted_result["changes"] for predicted_result in predicted["results"]]
    again = tenant_module(pinot, definitions=definitions)
    assert (again["changed"], again["executed_requests"]) == (False, [])


def test_bulk_tenants_with_a_bad_definition_write_nothing(pinot, second_server):
    definitions = [{"name": "hot", "role": "SERVER", "instances": [second_server]},
                   {"name": "warm", "role": "SERVER", "instance_count": 0}]
    refused = tenant_module(pinot, definitions=definitions)
    assert refused["failed"] is True
    assert refused["field"] == "definitions[1].instance_count", refused["msg"]
    assert refused["executed_requests"] == []
    unknown = tenant_module(pinot, definitions=[{"name": "hot", "role": "SERVER", "instance": [second_server]}])
    assert unknown["failed"] is True and "instance" in unknown["msg"], unknown


def test_tenant_in_use_cannot_be_deleted(pinot):
    if not requests.get(pinot.controller_url + "/tenants/DefaultTenant/tables", params={"type": "server"},
                        timeout=10).json().get("tables"):
        run_module("pinot_schema", {"controller_url": pinot.controller_url, "schema": {
            "schemaName": "tenantuse", "dimensionFieldSpecs": [{"name": "d", "dataType": "STRING"}]}})
        run_module("pinot_table", {"controller_url": pinot.controller_url, "table": {
            "tableName": "tenantuse", "tableType": "OFFLINE", "segmentsConfig": {"replication": 1}}})
    refused = tenant_module(pinot, name="DefaultTenant", role="SERVER", state="absent")
    assert refused["failed"] is True
    assert "still serves tables" in refused["msg"]
    assert refused["executed_requests"] == []


@pytest.mark.parametrize(("args", "field"), [
    ({"instance_count": 0}, "instance_count"),
    ({"instance_count": 2, "offline_instances": 3}, "offline_instances"),
    ({"instances": ["Broker_x_8099"]}, "instances[0]"),
    ({"instances": ["Server_nosuch_8098"]}, "instances[0]"),
    ({"instances": ["a", "a"]}, "instances"),
])
def test_bad_input_names_the_field(pinot, args, field):
    result = tenant_module(pinot, name="bad", role="SERVER", **args)
    assert result["failed"] is True
    assert result["field"] == field, result["msg"]
    assert result["executed_requests"] == []
