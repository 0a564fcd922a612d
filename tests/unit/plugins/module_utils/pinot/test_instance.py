"""pinot_instance's engine on a small controller with Pinot's semantics (tags, ideal states, validations)."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import client as pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import instance
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError

TAGS = ["DefaultTenant_OFFLINE", "DefaultTenant_REALTIME"]
S0, S1, S2 = "Server_a_8098", "Server_b_8098", "Server_c_8098"


class Controller(PinotClient):
    """Servers S0..S2 in DefaultTenant; table `events` OFFLINE with `replication` replicas per segment."""

    def __init__(self, replication=1, servers=(S0, S1)):
        super().__init__("http://pinot.invalid")
        self.tags = {name: list(TAGS) for name in servers}
        self.pools = {name: None for name in servers}
        self.ports = {name: {"grpcPort": "8090", "adminPort": "8097", "queryServicePort": "8421",
                             "queryMailboxPort": "8442"} for name in servers}
        self.live = set(servers)
        self.replication = replication
        self.ideal = {f"seg{i}": sorted(servers)[i % len(servers):][:replication] or sorted(servers)[:replication]
                      for i in range(4)}
        self.rebalance_params = []
        self.sent = []

    def tagged(self):
        return sorted(name for name, tags in self.tags.items() if "DefaultTenant_OFFLINE" in tags)

    def target(self):
        servers = self.tagged()
        return {seg: sorted(servers[(i + k) % len(servers)] for k in range(self.replication))
                for i, seg in enumerate(sorted(self.ideal))}

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if not (read_only or method == "GET"):
            self.executed_requests.append(f"{method} {path}")
        self.sent.append(f"{method} {path}")
        name = path.split("/")[2] if path.count("/") >= 2 else None
        if method == "GET" and path == "/liveinstances":
            return {"instances": sorted(self.live)}
        if method == "GET" and path == "/tables":
            return {"tables": ["events"]}
        if method == "GET" and path == "/tables/events/idealstate":
            return {"OFFLINE": {seg: dict.fromkeys(holders, "ONLINE") for seg, holders in self.ideal.items()},
                    "REALTIME": None}
        if method == "GET" and path == "/tenants/DefaultTenant/tables":
            return {"tables": ["events_OFFLINE"]}
        if method == "GET" and path.startswith("/instances/") and path.count("/") == 2:
            # Pinot's shape: ports and pools as strings, pools null until one was written
            return {"instanceName": name, "hostName": name.split("_")[1], "port": "8098", "enabled": True,
                    "tags": self.tags[name], "pools": self.pools.get(name), **self.ports.get(name, {})} \
                if name in self.tags else None
        if method == "PUT" and path.startswith("/instances/") and path.count("/") == 2:
            # Pinot replaces every field with the body's: a port left out becomes -1
            assert params == {"updateBrokerResource": "false"} and body["type"] == "SERVER"
            assert (body["host"], body["port"]) == (name.split("_")[1], 8098)
            self.tags[name] = body["tags"]
            self.pools[name] = {tag: str(pool) for tag, pool in body["pools"].items()}
            self.ports[name] = {key: str(body.get(key, -1)) for key in self.ports.get(name, {})}
            return {"status": "Updated"}
        if path == "/instances/updateTags/validate":
            verdicts = []
            for item in body:
                left = [n for n in self.tagged() if n != item["instanceName"]] + (
                    [item["instanceName"]] if "DefaultTenant_OFFLINE" in item["newTags"] else [])
                safe = len(left) >= self.replication
                verdicts.append({"instanceName": item["instanceName"], "isSafe": safe, "issues": [] if safe else [
                    {"code": "MINIMUM_INSTANCE_UNSATISFIED", "message": "Tenant 'DefaultTenant' will not satisfy"}]})
            return verdicts
        if method == "PUT" and path.endswith("/updateTags"):
            self.tags[name] = [t for t in params["tags"].split(",") if t]
            return {"status": "Updated"}
        if path == "/instances/dropInstance/validate":
            verdicts = []
            for item in params["instanceNames"].split(","):
                issues = ([{"code": "IS_ALIVE", "message": f"Instance {item} is still live"}] if item in self.live
                          else []) + ([{"code": "CONTAINS_RESOURCE", "message": "exists in ideal state"}]
                                      if any(item in h for h in self.ideal.values()) else [])
                verdicts.append({"instanceName": item, "isSafe": not issues, "issues": issues})
            return verdicts
        if method == "DELETE" and path.startswith("/instances/"):
            del self.tags[name]
            return {"status": "dropped"}
        if path == "/tables/events/rebalance":
            self.rebalance_params.append(params)
            moves = sum(set(h) != set(t) for h, t in zip(self.ideal.values(), self.target().values(), strict=True))
            if params["dryRun"] == "true":
                return {"status": "DONE" if moves else "NO_OP",
                        "rebalanceSummaryResult": {"segmentInfo": {"totalSegmentsToBeMoved": moves}}}
            self.ideal = self.target()
            return {"status": "DONE", "jobId": "job"}
        raise AssertionError(f"unexpected {method} {path}")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(pinot_client.time, "sleep", lambda seconds: None)


def params(**given):
    return dict({"instances": [S1], "state": "present", "tags": None, "pool": None, "rebalance": True,
                 "min_available_replicas": 1, "wait_timeout": 5}, **given)


def run(client, state, check_mode=False, **params):
    return instance.apply(client, dict({"instances": [S1], "state": state, "tags": None, "rebalance": True,
                                        "min_available_replicas": 1, "wait_timeout": 5}, **params), check_mode)


def test_drain_check_mode_predicts_the_moves_and_writes_nothing():
    client = Controller()
    result = run(client, "drained", check_mode=True)
    assert client.executed_requests == []
    assert result["changed"] and result["changes"][0] == f"{S1} tags {sorted(TAGS)} -> []"
    assert result["rebalances"] == [{"table": "events", "table_type": "OFFLINE", "status": "would rebalance",
                                     "segments_to_move": 2}]
    assert result["diff"]["after"][S1]["segments"] == 0 and result["diff"]["before"][S1]["segments"] == 2


def test_drain_moves_every_segment_off_then_a_rerun_writes_nothing():
    client = Controller(replication=1)
    result = run(client, "drained")
    assert all(holders == [S0] for holders in client.ideal.values())
    assert result["instances"] == [{"instance": S1, "registered": True, "live": True, "tags": [], "pools": {},
                                    "segments": 0}]
    # Replication 1: Pinot refuses minAvailableReplicas 1, so it is sent as 0, and the warning says why.
    assert client.rebalance_params[-1]["minAvailableReplicas"] == "0"
    assert client.rebalance_params[-1]["downtime"] == "false"
    assert "1 replica(s)" in result["warnings"][0]
    client.executed_requests.clear()
    again = run(client, "drained")
    assert not again["changed"] and client.executed_requests == []


def test_drain_keeps_the_asked_available_replicas_below_the_replication():
    client = Controller(replication=2, servers=(S0, S1, S2))
    run(client, "drained")
    assert client.rebalance_params[-1]["minAvailableReplicas"] == "1"
    assert all(S1 not in holders and len(holders) == 2 for holders in client.ideal.values())


def test_a_drain_the_tenant_cannot_hold_is_refused_before_any_write():
    client = Controller(replication=2)
    with pytest.raises(SpecError, match="Pinot refuses to set the tags .* will not satisfy.*Nothing was changed"):
        run(client, "drained")
    assert client.executed_requests == []


def test_absent_waits_for_the_stop_then_drops_and_refuses_an_undrained_instance():
    client = Controller()
    with pytest.raises(SpecError, match="CONTAINS|exists in ideal state"):
        client.live.discard(S1)
        run(client, "absent")
    assert client.executed_requests == []
    client.live.add(S1)
    run(client, "drained")
    # Still running: check mode says it would be dropped once stopped; a real run waits, then says who.
    predicted = run(client, "absent", check_mode=True)
    assert predicted["changes"] == [f"{S1} dropped"] and "still runs" in predicted["warnings"][0]
    with pytest.raises(PinotError, match=f"still live after 0s: {S1}"):
        run(client, "absent", wait_timeout=0)
    client.live.discard(S1)
    client.executed_requests.clear()
    result = run(client, "absent")
    assert client.executed_requests == [f"DELETE /instances/{S1}"] and S1 not in client.tags
    assert result["instances"][0]["registered"] is False
    client.executed_requests.clear()
    assert not run(client, "absent")["changed"] and client.executed_requests == []


def test_present_tags_a_new_server_and_rebalances_its_tenant_onto_it():
    client = Controller(servers=(S0, S1))
    client.tags[S2], client.live = [], client.live | {S2}
    result = run(client, "present", instances=[S2], tags=TAGS)
    assert result["changes"] == [f"{S2} tags [] -> {sorted(TAGS)}", "rebalance events OFFLINE"]
    assert any(holders == [S2] for holders in client.ideal.values())
    client.executed_requests.clear()
    assert not run(client, "present", instances=[S2], tags=TAGS)["changed"] and client.executed_requests == []


def test_check_mode_before_a_new_pod_runs_says_so_instead_of_failing():
    client = Controller()
    result = run(client, "present", check_mode=True, instances=["Server_new_8098"], tags=TAGS)
    assert not result["changed"] and client.executed_requests == []
    assert result["warnings"] == ["Server_new_8098 is not registered yet: put in service once it runs"]


def test_bad_input_names_the_field():
    with pytest.raises(SpecError, match="tags"):
        run(Controller(), "drained", tags=["x_OFFLINE"])
    with pytest.raises(SpecError) as failure:
        run(Controller(), "present", instances=["Server_unknown_1"])
    assert failure.value.field == "instances" and "not registered" in str(failure.value)


def test_pools_are_written_for_every_tag_with_every_other_field_sent_back():
    controller = Controller()
    controller.pools[S1] = {"DefaultTenant_OFFLINE": "1", "DefaultTenant_REALTIME": "1"}
    result = instance.apply(controller, params(instances=[S0, S1], pool=1, rebalance=False), check_mode=False)
    assert controller.executed_requests == [f"PUT /instances/{S0}"]
    assert controller.pools[S0] == {"DefaultTenant_OFFLINE": "1", "DefaultTenant_REALTIME": "1"}
    assert controller.ports[S0] == {"grpcPort": "8090", "adminPort": "8097", "queryServicePort": "8421",
                                    "queryMailboxPort": "8442"}
    assert result["changes"] == [f"{S0} pools {{}} -> {{'DefaultTenant_OFFLINE': 1, 'DefaultTenant_REALTIME': 1}}"]
    assert result["diff"]["after"][S0]["pools"] == {"DefaultTenant_OFFLINE": 1, "DefaultTenant_REALTIME": 1}
    controller.executed_requests.clear()
    again = instance.apply(controller, params(instances=[S0, S1], pool=1, rebalance=False), check_mode=False)
    assert not again["changed"] and controller.executed_requests == []
    # without a rebalance no table is read: the check on every run costs the instances' reads alone
    assert not [sent for sent in controller.sent if "/tables" in sent]
    assert again["instances"][0]["segments"] is None


def test_new_tags_get_the_pool_before_the_rebalance_and_check_mode_predicts_it():
    controller = Controller()
    wanted = dict(instances=[S0], tags=["hot_OFFLINE"], pool=2, rebalance=False)
    predicted = instance.apply(controller, params(**wanted), check_mode=True)
    assert controller.executed_requests == [] and predicted["changed"]
    assert predicted["instances"][0]["pools"] == {"hot_OFFLINE": 2}
    instance.apply(controller, params(**wanted), check_mode=False)
    assert controller.executed_requests == [f"PUT /instances/{S0}/updateTags", f"PUT /instances/{S0}"]
    assert controller.pools[S0] == {"hot_OFFLINE": "2"} and controller.tags[S0] == ["hot_OFFLINE"]


def test_a_pool_for_a_broker_or_outside_present_is_refused_before_any_write():
    controller = Controller()
    controller.tags["Broker_x_8099"] = ["DefaultTenant_BROKER"]
    with pytest.raises(SpecError) as info:
        instance.apply(controller, params(instances=[S0, "Broker_x_8099"], tags=["t_OFFLINE"], pool=0),
                       check_mode=False)
    assert info.value.field == "pool" and controller.executed_requests == []
    for bad in (dict(state="drained", pool=0), dict(pool=-1)):
        with pytest.raises(SpecError) as info:
            instance.apply(controller, params(instances=[S0], **bad), check_mode=False)
        assert info.value.field == "pool"
