"""Zone-aware tables and served placement: the pure rendering and checks, then pinot_table's handler on a
scripted controller (what it reads, what it writes, how many requests a no-op costs)."""

import copy
from collections import Counter

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import client as pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import placement, zones
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Plan, reconcile, reconcile_many
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table import build

# What Pinot 1.5.1 fills into an instance assignment entry it stores.
ENTRY_DEFAULTS = {"partitionSelector": "INSTANCE_REPLICA_GROUP_PARTITION_SELECTOR", "minimizeDataMovement": False}
GROUP_DEFAULTS = {"numInstances": 0, "numInstancesPerReplicaGroup": 0, "numPartitions": 0,
                  "numInstancesPerPartition": 0, "minimizeDataMovement": False}


def offline(name="events", replication=1, **extra):
    return dict({"tableName": name, "tableType": "OFFLINE", "tenants": {}, "tableIndexConfig": {},
                 "segmentsConfig": {"timeColumnName": "ts", "replication": replication}, "metadata": {}}, **extra)


def realtime(name="events", **segments):
    return {"tableName": name, "tableType": "REALTIME", "tenants": {}, "tableIndexConfig": {}, "metadata": {},
            "segmentsConfig": dict({"timeColumnName": "ts"}, **segments),
            "ingestionConfig": {"streamIngestionConfig": {"streamConfigMaps": [{"streamType": "kafka"}]}}}


# -- the rendering ---------------------------------------------------------------------------------------------

def test_an_offline_table_gets_one_replica_group_per_zone():
    assert zones.zone_entries(offline(replication=3), "OFFLINE") == {"OFFLINE": {
        "tagPoolConfig": {"tag": "DefaultTenant_OFFLINE", "poolBased": True, "numPools": 3},
        "replicaGroupPartitionConfig": {"replicaGroupBased": True, "numReplicaGroups": 3}}}


def test_a_realtime_table_assigns_its_consuming_segments_and_reads_replicas_per_partition_first():
    config = realtime(replication="2", replicasPerPartition="3")
    config["tenants"] = {"server": "hot"}
    assert zones.zone_entries(config, "REALTIME") == {"CONSUMING": zones.zone_entry("hot_REALTIME", 3)}
    assert zones.zone_entries(realtime(replication=2), "REALTIME") == {
        "CONSUMING": zones.zone_entry("DefaultTenant_REALTIME", 2)}


def test_completed_segments_moved_to_other_servers_get_their_own_entry():
    config = realtime(replication=2)
    config["tenants"] = {"server": "hot", "tagOverrideConfig": {"realtimeCompleted": "cold_OFFLINE"}}
    assert zones.zone_entries(config, "REALTIME") == {"CONSUMING": zones.zone_entry("hot_REALTIME", 2),
                                                      "COMPLETED": zones.zone_entry("cold_OFFLINE", 2)}


def test_what_the_definition_assigns_itself_wins():
    written = {"tagPoolConfig": {"tag": "x_OFFLINE"}, "replicaGroupPartitionConfig": {}}
    assert zones.zone_entries(offline(instanceAssignmentConfigMap={"OFFLINE": written}), "OFFLINE") == {}
    assert zones.zone_entries(offline(instancePartitionsMap={"OFFLINE": "p"}), "OFFLINE") == {}
    config = realtime(replication=2)
    config["tenants"] = {"tagOverrideConfig": {"realtimeCompleted": "cold_OFFLINE"}}
    config["instanceAssignmentConfigMap"] = {"CONSUMING": written}
    assert list(zones.zone_entries(config, "REALTIME")) == ["COMPLETED"]


@pytest.mark.parametrize(("entry", "separated"), [
    (zones.zone_entry("DefaultTenant_OFFLINE", 2), True),
    ({"tagPoolConfig": {"poolBased": True},
      "replicaGroupPartitionConfig": {"replicaGroupBased": True, "numReplicaGroups": 2}}, True),
    ({"tagPoolConfig": {"poolBased": True, "numPools": 1},
      "replicaGroupPartitionConfig": {"replicaGroupBased": True, "numReplicaGroups": 2}}, False),
    ({"tagPoolConfig": {"poolBased": False}, "replicaGroupPartitionConfig": {"replicaGroupBased": True}}, False),
    (None, False),
])
def test_zone_separation_is_pool_based_replica_groups_with_enough_pools(entry, separated):
    config = offline(replication=2, instanceAssignmentConfigMap={"OFFLINE": entry} if entry else {})
    assert zones.is_zone_separated(config, "OFFLINE") is separated


def test_drift_is_segments_short_of_replicas_and_replicas_outside_the_tenant():
    ideal = {"s0": {"a": "ONLINE", "b": "ONLINE"}, "s1": {"a": "ONLINE"}, "s2": {"z": "ONLINE", "b": "ONLINE"}}
    assert placement.drift(ideal, 2, {"a", "b"}) == {"segments_below_replication": 1,
                                                     "instances_outside_tenant": ["z"]}
    assert placement.drift(ideal, 1, None) == {}


def test_placement_fields_are_recognised_in_changed_paths():
    assert placement.touches(["segmentsConfig.replication"], placement.PLACEMENT_FIELDS)
    assert placement.touches(["instanceAssignmentConfigMap (added)"], placement.INSTANCE_FIELDS)
    assert placement.touches(["tierConfigs[0].serverTag"], placement.PLACEMENT_FIELDS)
    assert not placement.touches(["segmentsConfig.replicationX", "tableIndexConfig.loadMode"],
                                 placement.PLACEMENT_FIELDS)
    assert not placement.touches(["segmentsConfig.replication"], placement.INSTANCE_FIELDS)


# -- the handler on a scripted controller ----------------------------------------------------------------------

def stored_form(config):
    """Roughly what POST /tables/validate answers: numbers as strings, assignment defaults filled in."""
    stored = copy.deepcopy(config)
    stored["tableName"] = config["tableName"] if config["tableName"].endswith(config["tableType"]) else \
        f"{config['tableName']}_{config['tableType']}"
    segments = stored["segmentsConfig"]
    for key in ("replication", "replicasPerPartition"):
        if key in segments:
            segments[key] = str(segments[key])
    for entry in (stored.get("instanceAssignmentConfigMap") or {}).values():
        entry.update(ENTRY_DEFAULTS)
        entry["replicaGroupPartitionConfig"] = dict(GROUP_DEFAULTS, **entry["replicaGroupPartitionConfig"])
    return stored


class Controller(PinotClient):
    """OFFLINE tables, their ideal states, a tenant's servers with their pools, and rebalances that give every
    segment `replication` replicas on the tenant's servers."""

    def __init__(self, tables=None, ideal=None, servers=("Server_a", "Server_b"), pools=None, balanced=None):
        super().__init__("http://pinot.invalid")
        self.tables = {name: stored_form(config) for name, config in (tables or {}).items()}
        self.ideal = copy.deepcopy(ideal or {})
        self.servers = list(servers)
        self.pools = pools or {}
        self.balanced = balanced  # None: a dry run moves what the ideal state lacks; True/False: forced
        self.gets = Counter()
        self.rebalances = []

    def next_task(self, **changes):
        """The same controller as the next task sees it: nothing read yet."""
        return Controller(self.tables, self.ideal, self.servers, self.pools, **changes)

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        path, query = (path.split("?", 1) + [""])[:2]
        parts = path.strip("/").split("/")
        if method == "GET":
            self.read_count += 1
            self.gets[parts[0] + ("/" + parts[2] if len(parts) > 2 else "")] += 1
            if parts[0] == "tables" and len(parts) == 3:
                assert query == "tableType=OFFLINE"
                return {"OFFLINE": self.ideal.get(parts[1], {})}
            if parts[0] == "tables":
                return {"OFFLINE": self.tables[parts[1]]} if parts[1] in self.tables else None
            if parts[0] == "tenants":
                return {"OfflineServerInstances": self.servers, "RealtimeServerInstances": [],
                        "ServerInstances": self.servers} if parts[1] == "DefaultTenant" else None
            if parts[0] == "instances":
                pool = self.pools.get(parts[1])
                return {"instanceName": parts[1], "pools": None if pool is None else {"DefaultTenant_OFFLINE": pool}}
            if parts[0] == "rebalanceStatus":
                return {"tableRebalanceProgressStats": {"status": "DONE"}}
            return {}  # a schema
        if path == "/tables/validate":
            self.read_count += 1
            return {"OFFLINE": stored_form(body)}
        if parts[-1] == "rebalance":
            return self.rebalance(parts[1], params, read_only)
        self.executed_requests.append(f"{method} {path}")
        if method == "POST":
            self.tables[raw(body["tableName"])] = stored_form(body)
        elif method == "PUT":
            self.tables[parts[1]] = stored_form(body)
        return {}

    def rebalance(self, name, params, dry_run):
        replicas = placement.replication(self.tables[name], "OFFLINE")
        target = {segment: dict.fromkeys(self.servers[:replicas], "ONLINE") for segment in self.ideal.get(name, {})}
        moves = target != self.ideal.get(name, {}) if self.balanced is None else not self.balanced
        if dry_run:
            self.read_count += 1
            return {"status": "DONE" if moves else "NO_OP", "description": "planned", "preChecksResult": {}}
        self.executed_requests.append(f"POST /tables/{name}/rebalance")
        self.rebalances.append(params)
        self.ideal[name] = target
        return {"status": "IN_PROGRESS", "jobId": "job-1", "description": "In progress"}


def raw(name):
    return name.rsplit("_", 1)[0] if name.endswith(("_OFFLINE", "_REALTIME")) else name


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(pinot_client.time, "sleep", lambda seconds: None)


AUTO = {"when": "auto", "downtime": False, "min_available_replicas": 1, "include_consuming": True,
        "reassign_instances": None, "wait": True, "timeout": 60}


def params(table, **extra):
    return dict({"table": copy.deepcopy(table), "name": None, "table_type": None, "src": None, "state": "present",
                 "force": False, "rebalance": AUTO, "delete_retention": None, "zone_aware": False,
                 "zone_aware_tenants": []}, **extra)


def run(client, table, check_mode=False, **extra):
    handler, desired = build(client, params(table, **extra), check_mode)
    outcome = reconcile(handler, desired, "present", check_mode)
    return outcome, handler


ON_ONE_SERVER = {"events": {"s0": {"Server_a": "ONLINE"}, "s1": {"Server_a": "ONLINE"}}}


def test_a_replication_raise_is_followed_by_a_rebalance_then_a_rerun_writes_nothing():
    client = Controller({"events": offline()}, ON_ONE_SERVER)
    outcome, handler = run(client, offline(replication=2))
    assert outcome["changed"] is True
    assert outcome["changes"] == ["segmentsConfig.replication", "served.segments_below_replication"]
    assert client.executed_requests == ["PUT /tables/events", "POST /tables/events/rebalance"]
    sent = client.rebalances[0]
    assert (sent["reassignInstances"], sent["downtime"], sent["minAvailableReplicas"]) == ("false", "false", "1")
    assert handler.extra_result["rebalance"]["status"] == "DONE"
    assert client.ideal["events"] == {"s0": {"Server_a": "ONLINE", "Server_b": "ONLINE"},
                                      "s1": {"Server_a": "ONLINE", "Server_b": "ONLINE"}}

    client = client.next_task()
    again, handler = run(client, offline(replication=2))
    assert (again["changed"], again["changes"], client.executed_requests) == (False, [], [])
    assert "rebalance" not in handler.extra_result


def test_check_mode_reports_the_shortfall_and_writes_nothing():
    client = Controller({"events": offline(replication=2)}, ON_ONE_SERVER)
    outcome, handler = run(client, offline(replication=2), check_mode=True)
    assert outcome["changed"] is True
    assert outcome["changes"] == ["served.segments_below_replication"]
    assert (outcome["before"]["served"], outcome["after"]["served"]) == (
        {"segments_below_replication": 2}, {"segments_below_replication": 0})
    assert handler.extra_result["rebalance"]["status"] == "would rebalance"
    assert client.executed_requests == [] and client.ideal == ON_ONE_SERVER


def test_check_mode_after_a_placement_change_predicts_the_rebalance_without_a_dry_run():
    client = Controller({"events": offline()}, {})
    outcome, handler = run(client, offline(replication=2), check_mode=True)
    assert outcome["changes"] == ["segmentsConfig.replication"]
    assert handler.extra_result["rebalance"]["status"] == "would rebalance"
    assert client.executed_requests == []


def test_drift_with_the_config_as_described_is_fixed():
    client = Controller({"events": offline(replication=2)}, ON_ONE_SERVER)
    outcome, _handler = run(client, offline(replication=2))
    assert (outcome["changed"], outcome["changes"]) == (True, ["served.segments_below_replication"])
    assert client.executed_requests == ["POST /tables/events/rebalance"]
    assert client.rebalances[0]["reassignInstances"] == "true"  # drift: the instance assignment may be stale


def test_a_replica_outside_the_tenant_is_drift():
    client = Controller({"events": offline()}, {"events": {"s0": {"Server_gone": "ONLINE"}}})
    outcome, _handler = run(client, offline(), check_mode=True)
    assert outcome["changes"] == ["served.instances_outside_tenant"]
    assert outcome["before"]["served"] == {"instances_outside_tenant": ["Server_gone"]}


def test_drift_pinot_would_not_move_is_a_warning_not_a_change():
    client = Controller({"events": offline(replication=2)}, ON_ONE_SERVER, balanced=True)
    outcome, _handler = run(client, offline(replication=2))
    assert (outcome["changed"], client.executed_requests) == (False, [])
    assert any("moves nothing" in warning for warning in outcome["warnings"])


@pytest.mark.parametrize("when", ["never", "on_change"])
def test_rebalances_can_be_limited_or_turned_off(when):
    client = Controller({"events": offline()}, ON_ONE_SERVER)
    outcome, _handler = run(client, offline(replication=2), rebalance=dict(AUTO, when=when))
    assert client.gets["tables/idealstate"] == 0
    expected = ["PUT /tables/events"] + (["POST /tables/events/rebalance"] if when == "on_change" else [])
    assert (outcome["changes"], client.executed_requests) == (["segmentsConfig.replication"], expected)


def test_a_new_table_is_not_rebalanced_and_its_ideal_state_not_read():
    client = Controller({}, {})
    outcome, _handler = run(client, offline(replication=2))
    assert client.executed_requests == ["POST /tables"] and client.gets["tables/idealstate"] == 0
    assert outcome["changes"] == [". (created)"]


def test_an_index_change_moves_nothing():
    client = Controller({"events": offline()}, ON_ONE_SERVER)
    run(client, offline(tableIndexConfig={"loadMode": "HEAP"}))
    assert client.executed_requests == ["PUT /tables/events"]


POOLS = {"Server_a": "0", "Server_b": "1"}


def test_zone_aware_fills_the_assignment_moves_the_segments_and_a_rerun_writes_nothing():
    client = Controller({"events": offline(replication=2)},
                        {"events": {"s0": {"Server_a": "ONLINE", "Server_b": "ONLINE"}}}, pools=POOLS, balanced=False)
    outcome, _handler = run(client, offline(replication=2), zone_aware=True)
    assert outcome["changes"] == ["instanceAssignmentConfigMap (added)"]
    assert client.executed_requests == ["PUT /tables/events", "POST /tables/events/rebalance"]
    assert client.rebalances[0]["reassignInstances"] == "true"
    assert client.tables["events"]["instanceAssignmentConfigMap"]["OFFLINE"]["tagPoolConfig"] == {
        "tag": "DefaultTenant_OFFLINE", "poolBased": True, "numPools": 2}

    client = client.next_task()
    again, _handler = run(client, offline(replication=2), zone_aware=True)
    assert (again["changed"], client.executed_requests) == (False, [])
    # Pinot's stored form compares equal without asking it again, and an unchanged zone-aware table needs no pools.
    assert client.read_count == 3 and client.gets["instances"] == 0  # the table, its ideal state, its tenant


def test_zone_aware_with_fewer_pools_than_replicas_is_refused_before_any_write():
    client = Controller({"events": offline(replication=2)}, {}, pools={"Server_a": "0", "Server_b": "0"})
    with pytest.raises(SpecError) as raised:
        run(client, offline(replication=2), zone_aware=True)
    assert raised.value.field == "zone_aware" and "in 1 pool(s) (0)" in str(raised.value)
    assert client.executed_requests == []


def test_zone_aware_tenants_pick_the_tables_of_a_tenant():
    client = Controller({}, {}, pools=POOLS)
    handler, desired = build(client, params(offline(replication=2), zone_aware_tenants=["DefaultTenant"]), False)
    assert handler.zone_kinds == ("OFFLINE",) and desired["instanceAssignmentConfigMap"]["OFFLINE"]
    handler, desired = build(client, params(offline(replication=2), zone_aware_tenants=["other"]), False)
    assert handler.zone_kinds == () and "instanceAssignmentConfigMap" not in desired


def bulk(client, tables, **extra):
    plans = []
    for table in tables:
        handler, desired = build(client, params(table, **extra), False)
        plans.append(Plan(handler, desired, "present"))
    return reconcile_many(plans, check_mode=False)


def test_replicas_that_could_share_a_zone_are_warned_about_reading_the_pools_once():
    tables = [offline(f"t{i}", replication=2) for i in range(5)]
    balanced = {f"t{i}": {"s0": {"Server_a": "ONLINE", "Server_b": "ONLINE"}} for i in range(5)}
    client = Controller({table["tableName"]: table for table in tables}, balanced, pools=POOLS)
    results = bulk(client, tables)
    assert [result["changed"] for result in results] == [False] * 5 and client.executed_requests == []
    for index, result in enumerate(results):
        assert result["warnings"] == [
            f"table t{index}_OFFLINE: its 2 replicas could share a zone: the servers tagged DefaultTenant_OFFLINE "
            "are in pools 0, 1, and the table's instance assignment is not one replica group per pool "
            "(zone_aware: true)"]
    assert (client.gets["tenants"], client.gets["instances"]) == (1, 2)
    # The no-op's cost: per table its config and its ideal state; per tenant its servers and their pools.
    assert client.read_count == 5 * 2 + 1 + 2


def test_no_pools_are_read_when_no_table_could_put_replicas_in_one_zone():
    tables = [offline(f"t{i}") for i in range(3)]
    client = Controller({table["tableName"]: table for table in tables}, {}, pools=POOLS)
    results = bulk(client, tables)
    assert [result["warnings"] for result in results] == [[], [], []]
    assert (client.gets["tenants"], client.gets["instances"]) == (0, 0)
    assert client.read_count == 3 * 2  # no segments: the tenant's servers are not needed either


def test_a_single_zone_cluster_gets_no_warning():
    client = Controller({"events": offline(replication=2)}, {}, pools={"Server_a": "0"})
    outcome, _handler = run(client, offline(replication=2))
    assert outcome["warnings"] == []


def test_a_no_op_without_the_ideal_state_costs_one_read_per_table():
    tables = [offline(f"t{i}") for i in range(4)]
    client = Controller({table["tableName"]: table for table in tables}, ON_ONE_SERVER)
    bulk(client, tables, rebalance=dict(AUTO, when="on_change"))
    assert client.read_count == 4
