"""pinot_instance's engine on a small controller with Pinot's semantics (tags, ideal states, validations)."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils import instance, pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot_client import PinotClient, PinotError

TAGS = ["DefaultTenant_OFFLINE", "DefaultTenant_REALTIME"]
S0, S1, S2 = "Server_a_8098", "Server_b_8098", "Server_c_8098"


class Controller(PinotClient):
    """Servers S0..S2 in DefaultTenant; table `events` OFFLINE with `replication` replicas per segment."""

    def __init__(self, replication=1, servers=(S0, S1)):
        super().__init__("http://pinot.invalid")
        self.tags = {name: list(TAGS) for name in servers}
        self.live = set(servers)
        self.replication = replication
        self.ideal = {f"seg{i}": sorted(servers)[i % len(servers):][:replication] or sorted(servers)[:replication]
                      for i in range(4)}
        self.rebalance_params = []

    def tagged(self):
        return sorted(name for name, tags in self.tags.items() if "DefaultTenant_OFFLINE" in tags)

    def target(self):
        servers = self.tagged()
        return {seg: sorted(servers[(i + k) % len(servers)] for k in range(self.replication))
                for i, seg in enumerate(sorted(self.ideal))}

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None):
        if not (read_only or method == "GET"):
            self.executed_requests.append(f"{method} {path}")
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
            return {"instanceName": name, "tags": self.tags[name]} if name in self.tags else None
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
    assert result["instances"] == [{"instance": S1, "registered": True, "live": True, "tags": [], "segments": 0}]
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
