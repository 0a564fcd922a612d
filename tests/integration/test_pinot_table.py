"""pinot_table and pinot_table_info against the real Pinot controller of each tested version."""

import copy
import uuid

import pytest
import requests

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.instance import instance_body
from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import offline_table

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


# -- where segments live ----------------------------------------------------------------------------------------

def stored_config(pinot, name):
    return requests.get(f"{pinot.controller_url}/tables/{name}", timeout=30).json()["OFFLINE"]


def replicas_online(pinot, name):
    """{segment: number of ONLINE replicas} in the external view."""
    # Right after the table's creation Pinot may have no external view for it yet.
    view = requests.get(f"{pinot.controller_url}/tables/{name}/externalview", params={"tableType": "OFFLINE"},
                        timeout=30).json().get("OFFLINE") or {}
    return {segment: sorted(states.values()).count("ONLINE") for segment, states in view.items()}


@pytest.mark.every_version
def test_a_replication_raise_gives_every_segment_its_replicas_then_a_rerun_writes_nothing(pinot):
    with offline_table(pinot, "rep_", segments=2) as name:
        wait_until("both segments online", lambda: len(replicas_online(pinot, name)) == 2)
        config = stored_config(pinot, name)
        config["segmentsConfig"]["replication"] = "2"

        predicted = table_module(pinot, check=True, table=config)
        assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
        assert predicted["changes"] == ["segmentsConfig.replication", "served.segments_below_replication"]
        assert predicted["diff"]["before"]["served"] == {"segments_below_replication": 2}
        assert predicted["rebalance"]["status"] == "would rebalance"

        done = table_module(pinot, table=config)
        assert done["changed"] is True, done
        assert done["executed_requests"][0] == f"PUT /tables/{name}"
        sent = done["executed_requests"][1]
        assert len(done["executed_requests"]) == 2 and sent.startswith(f"POST /tables/{name}/rebalance?"), done
        for parameter in ("dryRun=false", "downtime=false", "reassignInstances=false", "type=OFFLINE"):
            assert parameter in sent, sent
        assert done["rebalance"]["status"] == "DONE", done["rebalance"]
        wait_until("two ONLINE replicas of every segment",
                   lambda: replicas_online(pinot, name) == {segment: 2 for segment in replicas_online(pinot, name)})

        again = table_module(pinot, table=config)
        assert (again["changed"], again["changes"], again["executed_requests"]) == (False, [], []), again
        assert "rebalance" not in again


@pytest.mark.every_version
def test_segments_short_of_the_described_replicas_are_drift_reported_in_check_mode_and_fixed(pinot):
    with offline_table(pinot, "drift_", segments=2) as name:
        wait_until("both segments online", lambda: len(replicas_online(pinot, name)) == 2)
        config = stored_config(pinot, name)
        config["segmentsConfig"]["replication"] = "2"
        # Someone raised the replication without a rebalance: the config is as described, the segments are not.
        requests.put(f"{pinot.controller_url}/tables/{name}", json=config, timeout=30).raise_for_status()

        predicted = table_module(pinot, check=True, table=config)
        assert (predicted["changed"], predicted["executed_requests"]) == (True, []), predicted
        assert predicted["changes"] == ["served.segments_below_replication"]
        assert (predicted["diff"]["before"]["served"], predicted["diff"]["after"]["served"]) == (
            {"segments_below_replication": 2}, {"segments_below_replication": 0})
        assert predicted["rebalance"]["status"] == "would rebalance"
        assert set(replicas_online(pinot, name).values()) == {1}

        fixed = table_module(pinot, table=config)
        assert fixed["changes"] == ["served.segments_below_replication"]
        assert len(fixed["executed_requests"]) == 1 and "reassignInstances=true" in fixed["executed_requests"][0]
        wait_until("two ONLINE replicas of every segment",
                   lambda: replicas_online(pinot, name) == {segment: 2 for segment in replicas_online(pinot, name)})
        again = table_module(pinot, table=config)
        assert (again["changed"], again["executed_requests"]) == (False, []), again


@pytest.fixture
def servers_in_two_pools(pinot):
    """The bed's two servers in pools 0 and 1 (every tag of each); the pools they had are put back afterwards.
    A PUT /instances/{id} replaces every field, so the full instance goes back with it."""
    url = pinot.controller_url
    names = sorted(name for name in requests.get(f"{url}/instances", timeout=30).json()["instances"]
                   if name.startswith("Server_"))
    assert len(names) == 2, names
    before = {name: requests.get(f"{url}/instances/{name}", timeout=30).json() for name in names}

    def put(name, pools):
        config = before[name]
        requests.put(f"{url}/instances/{name}", params={"updateBrokerResource": "false"}, timeout=30,
                     json=instance_body(config, "SERVER", config["tags"], pools)).raise_for_status()

    for pool, name in enumerate(names):
        put(name, {tag: pool for tag in before[name]["tags"]})
    try:
        yield {name: pool for pool, name in enumerate(names)}
    finally:
        for name in names:
            put(name, {tag: int(pool) for tag, pool in (before[name].get("pools") or {}).items()})


@pytest.mark.every_version
def test_a_zone_aware_table_keeps_one_replica_group_per_pool(pinot, servers_in_two_pools):
    with offline_table(pinot, "zone_", segments=2) as name:
        wait_until("both segments online", lambda: len(replicas_online(pinot, name)) == 2)
        config = stored_config(pinot, name)
        config["segmentsConfig"]["replication"] = "2"

        warned = table_module(pinot, check=True, table=config)
        assert f"table {name}_OFFLINE: its 2 replicas could share a zone" in " ".join(warned.get("warnings") or [])
        assert warned["executed_requests"] == []

        zoned = table_module(pinot, table=config, zone_aware=True)
        assert zoned["changed"] is True, zoned
        assert zoned["changes"] == ["instanceAssignmentConfigMap (added)", "segmentsConfig.replication",
                                    "served.segments_below_replication"], zoned["changes"]
        assert zoned["executed_requests"][0] == f"PUT /tables/{name}"
        assert "reassignInstances=true" in zoned["executed_requests"][1], zoned["executed_requests"]
        assert zoned["rebalance"]["status"] == "DONE", zoned["rebalance"]
        assert "could share a zone" not in " ".join(zoned.get("warnings") or [])
        entry = stored_config(pinot, name)["instanceAssignmentConfigMap"]["OFFLINE"]
        assert entry["tagPoolConfig"].items() >= {"tag": "DefaultTenant_OFFLINE", "poolBased": True,
                                                  "numPools": 2}.items(), entry

        groups = requests.get(f"{pinot.controller_url}/tables/{name}/instancePartitions",
                              params={"type": "OFFLINE"}, timeout=30).json()["OFFLINE"]["partitionToInstancesMap"]
        assert sorted(groups) == ["0_0", "0_1"], groups  # partition 0, replica groups 0 and 1
        assert {servers_in_two_pools[instance] for instance in groups["0_0"]} != \
            {servers_in_two_pools[instance] for instance in groups["0_1"]}, groups
        wait_until("two ONLINE replicas of every segment",
                   lambda: replicas_online(pinot, name) == {segment: 2 for segment in replicas_online(pinot, name)})

        again = table_module(pinot, table=config, zone_aware=True)
        assert (again["changed"], again["executed_requests"]) == (False, []), again


@pytest.mark.every_version
def test_zone_aware_with_fewer_pools_than_replicas_is_refused_before_any_write(pinot, table_name):
    create_schema(pinot, table_name)
    # Three replicas, one per zone: the bed's two servers are in two pools at most.
    refused = table_module(pinot, table=offline_config(table_name, replication=3), zone_aware=True)
    assert refused["failed"] is True and refused["field"] == "zone_aware", refused
    assert "pool(s)" in refused["msg"] and refused["executed_requests"] == []
    assert live_table(pinot, table_name) == {}
