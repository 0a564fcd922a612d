"""The rollout's decisions, on a fake Kubernetes side (StatefulSets with revisions and partitions) and a fake Pinot
side (gates that pass or fail as told). The real sides are driven by tests/integration/test_roles.py."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster_apply import WaitTimeout
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster_spec import normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.k8s_client import K8sError
from ansible_collections.pinotops.k8s.plugins.module_utils.rollout import (
    Rollout,
    RolloutStopped,
    check_options,
    planned_groups,
)

OLD, NEW = "apachepinot/pinot:1.4.0", "apachepinot/pinot:1.5.1"


def cluster(image=NEW, **extra):
    return normalise_cluster(dict({
        "name": "pinot", "namespace": "ns", "image": image, "zookeeper": {"address": "zk:2181"},
        "node_groups": [
            {"name": "server-a", "role": "server", "replicas": 2},
            {"name": "controller", "role": "controller", "replicas": 1, "overrides": {"storage": {"size": "1Gi"}}},
            {"name": "broker", "role": "broker", "replicas": 2},
        ]}, **extra))


class FakeKube:
    """StatefulSets as revisions: each pod runs the revision of the template it was created from; applying a group
    makes its template the desired one and restarts the pods at or above the partition that run another."""

    def __init__(self, description, image=OLD, timeout_at=None, unready=()):
        self.groups = {g["name"]: {"replicas": g["replicas"], "template": image, "partition": 0,
                                   "pods": {o: image for o in range(g["replicas"])}}
                       for g in description["node_groups"]}
        self.desired = {g["name"]: g["image"] for g in description["node_groups"]}
        self.timeout_at = timeout_at  # (group, partition) whose wait times out
        self.unready = unready
        self.log = []
        self.stops = []

    def status(self, name):
        group = self.groups[name]
        pods = [{"name": f"pinot-{name}-{o}", "instance": f"{name}_{o}", "revision": rev,
                 "ready": f"pinot-{name}-{o}" not in self.unready} for o, rev in sorted(group["pods"].items())]
        complete = all(rev == group["template"] for o, rev in group["pods"].items() if o >= group["partition"])
        return {"replicas": group["replicas"], "ready": sum(p["ready"] for p in pods), "pods": pods,
                "update_revision": group["template"], "rollout_complete": complete, "image": group["template"]}

    def read(self):
        return {name: self.status(name) for name in self.groups}

    def statefulset(self, group):
        return f"pinot-{group}"

    def changes_for(self, name, partition):
        group = self.groups[name]
        found = [f"StatefulSet/pinot-{name} spec.template"] if group["template"] != self.desired[name] else []
        if group["partition"] != partition:
            found.append(f"StatefulSet/pinot-{name} spec.updateStrategy.rollingUpdate.partition")
        return found

    def plan(self, name):
        changes = self.changes_for(name, 0)
        return changes, [{"after_header": f"StatefulSet/pinot-{name}"}] if changes else [], self.status(name)

    def apply(self, name, partition):
        changes = self.changes_for(name, partition)
        self.log.append(("apply", name, partition))
        group = self.groups[name]
        group["template"], group["partition"] = self.desired[name], partition
        if self.timeout_at == (name, partition):
            raise WaitTimeout({name: "1 of 2 pods ready"}, 20, [f"pinot-{name}-{partition} (running, not ready)"])
        for ordinal in group["pods"]:
            if ordinal >= partition and group["pods"][ordinal] != group["template"]:
                group["pods"][ordinal] = group["template"]
                self.log.append(("restart", f"pinot-{name}-{ordinal}"))
        return self.status(name), changes

    def record_stop(self, kind, names, note):
        self.stops.append((kind, names, note))

    def writes(self):
        return [entry for entry in self.log if entry[0] == "apply"]


class FakePinot:
    def __init__(self, failing_gate=None, unsafe=(), tables=()):
        self.failing_gate = failing_gate  # pod whose gate fails
        self.unsafe = set(unsafe)  # roles whose check before the restart fails
        self.tables = {t: "consuming" for t in tables}
        self.log = []

    def cluster_gate(self, timeout):
        return [{"check": "controller_health", "ok": True, "detail": "OK"}], 0.0

    def restart_check(self, role, instances, timeout):
        self.log.append(("restart_check", role, tuple(instances)))
        ok = role not in self.unsafe
        return [{"check": "restart_safe", "ok": ok, "detail": "fine" if ok else "the only live one"}], 0.0

    def gate(self, role, target, timeout):
        self.log.append(("gate", target["pod"]))
        ok = target["pod"] != self.failing_gate
        return [{"check": "live", "ok": ok, "detail": f"{target['instance']} is {'' if ok else 'not '}live"}], 0.5

    def consumption(self, table, state, timeout, check_mode=False):
        if table not in self.tables:
            raise SpecError("name", f"no REALTIME table named '{table}'")
        changed = self.tables[table] != state
        if changed and not check_mode:
            self.tables[table] = state
            self.log.append((state, table))
        return changed


def run(kube, pinot, description=None, check_mode=False, **options):
    lines, warnings, sleeps = [], [], []
    rollout = Rollout(kube, pinot, description or cluster(), dict({"restart_check_timeout": 0}, **options),
                      check_mode=check_mode, report=lines.append, warn=warnings.append, sleep=sleeps.append)
    try:
        return rollout.run(), lines, warnings, sleeps
    finally:
        run.last = rollout


def restarts(kube):
    return [entry[1] for entry in kube.log if entry[0] == "restart"]


def test_roles_in_deployment_order_groups_stepped_highest_ordinal_first():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot()
    result, lines, _warnings, _sleeps = run(kube, pinot, description)
    assert restarts(kube) == ["pinot-controller-0", "pinot-broker-1", "pinot-broker-0", "pinot-server-a-1",
                              "pinot-server-a-0"]
    # The new template with the first step's partition, then the partition down one pod a step; the last is 0.
    assert kube.writes() == [("apply", "controller", 0), ("apply", "broker", 1), ("apply", "broker", 0),
                             ("apply", "server-a", 1), ("apply", "server-a", 0)]
    # Each pod's check before its restart (minions none), its gate after.
    assert pinot.log[:3] == [("restart_check", "controller", ("controller_0",)), ("gate", "pinot-controller-0"),
                             ("restart_check", "broker", ("broker_1",))]
    assert [s["restarted"] for s in result["steps"]] == [["pinot-controller-0"], ["pinot-broker-1"],
                                                         ["pinot-broker-0"], ["pinot-server-a-1"],
                                                         ["pinot-server-a-0"]]
    assert lines[0].startswith("pre-flight passed: 3 node groups Ready")
    assert lines[1] == "controller 1/1 pinot-controller-0: safe to restart, restarted, Ready after 0.0 s; Pinot gate " \
                       "passed after 0.5 s (live)"
    assert "StatefulSet/pinot-broker spec.template" in result["changes"]
    # What the time went on: the pre-flight, and per step the check before, the wait for Ready, the whole step.
    assert isinstance(result["preflight_seconds"], float)
    assert all(step["seconds"] >= step["ready_seconds"] >= 0 and step["check_seconds"] >= 0
               for step in result["steps"])


def test_a_second_run_writes_nothing():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot()
    run(kube, pinot, description)
    kube.log.clear()
    result, lines, _warnings, _sleeps = run(kube, pinot, description)
    assert kube.log == [] and result["changes"] == [] and result["steps"] == []
    assert lines[1:] == [f"{g}: every pod at revision {NEW}, nothing to restart"
                         for g in ("controller", "broker", "server-a")]


def test_a_rerun_restarts_only_the_pods_left_on_the_old_revision_and_gates_all():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot()
    # A killed run had upgraded the controller and broker-1, and left the broker's partition at 1.
    kube.groups["controller"].update(template=NEW, pods={0: NEW})
    kube.groups["broker"].update(template=NEW, partition=1)
    kube.groups["broker"]["pods"][1] = NEW
    run(kube, pinot, description, node_groups=["broker"])
    assert restarts(kube) == ["pinot-broker-0"]
    assert [e for e in pinot.log if e[0] == "gate"] == [("gate", "pinot-broker-1"), ("gate", "pinot-broker-0")]
    assert ("restart_check", "broker", ("broker_1",)) not in pinot.log  # not restarted: not checked


def test_a_failed_gate_stops_there_and_touches_nothing_after():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot(failing_gate="pinot-broker-1", tables=["events"])
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, pinot, description, paused_tables=["events"])
    message = str(stopped.value)
    assert message.startswith("Upgrade stopped at node group broker, step broker 1/2, pod(s) pinot-broker-1, gate "
                              "'broker live': Pinot gate 'live' failed for broker broker 1/2 pinot-broker-1 after "
                              "0.5s: broker_1 is not live. Nothing after this pod was touched; fix the cause and "
                              "rerun to resume.")
    reason = "Pinot gate 'live' failed for broker broker 1/2 pinot-broker-1 after 0.5s: broker_1 is not live"
    assert stopped.value.stop == {"group": "broker", "step": "broker 1/2", "pods": ["pinot-broker-1"],
                                  "gate": "broker live", "reason": reason}
    assert restarts(kube) == ["pinot-controller-0", "pinot-broker-1"]
    assert kube.stops == [("Pod", ["pinot-broker-1"], "Upgrade stopped by gate 'broker live': " +
                           stopped.value.stop["reason"])]
    assert pinot.tables == {"events": "paused"}  # left paused: the rerun resumes it when it ends
    pinot.failing_gate = None
    run(kube, pinot, description, paused_tables=["events"])
    assert restarts(kube)[2:] == ["pinot-broker-0", "pinot-server-a-1", "pinot-server-a-0"]
    assert pinot.tables == {"events": "consuming"}


def test_an_unsafe_restart_stops_before_the_pod_unless_the_role_accepts_it():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot(unsafe=["controller"])
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, pinot, description)
    assert "gate 'controller restart_safe'" in str(stopped.value)
    assert "Nothing of this step was restarted" in str(stopped.value)
    assert "add controller to accept_unavailable" in str(stopped.value)
    assert restarts(kube) == [] and kube.writes() == []  # nothing written before the check
    _result, lines, warnings, _sleeps = run(kube, pinot, description, accept_unavailable=["controller"])
    assert restarts(kube)[0] == "pinot-controller-0"
    assert warnings == ["Pinot gate 'restart_safe' failed for controller controller 1/1 after 0.0s: the only live "
                        "one (not enforced)"]
    assert any("(not enforced: controller is in accept_unavailable)" in line for line in lines)
    assert "controller 1/1 pinot-controller-0: unsafe, accepted, restarted, Ready after" in "\n".join(lines)


def test_a_rollout_timeout_stops_with_the_pods_not_ready_and_the_recovery():
    description = cluster()
    kube = FakeKube(description, timeout_at=("server-a", 1))
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, FakePinot(), description)
    message = str(stopped.value)
    assert "step server-a 1/2, pod(s) pinot-server-a-1, gate 'kubernetes rollout': rollout not complete after " \
           "20s: server-a: 1 of 2 pods ready; pods not Ready: pinot-server-a-1 (running, not ready)" in message
    assert "apply it to server-a at partition 1, delete the pod, then rerun" in message
    assert kube.stops[0][:2] == ("StatefulSet", ["pinot-server-a"])


def test_a_failed_request_stops_naming_the_step():
    description = cluster()
    kube = FakeKube(description)
    apply = kube.apply

    def failing(name, partition):
        if (name, partition) == ("broker", 1):
            raise K8sError("apply", "StatefulSet", "pinot-broker", message="cannot reach the apiserver")
        return apply(name, partition)

    kube.apply = failing
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, FakePinot(), description)
    assert str(stopped.value).startswith("Upgrade stopped at node group broker, step broker 1/2: apply StatefulSet "
                                         "pinot-broker failed: cannot reach the apiserver. Rerun to resume.")


def test_check_mode_predicts_and_writes_nothing():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot(tables=["events"])
    result, lines, _warnings, _sleeps = run(kube, pinot, description, check_mode=True, paused_tables=["events"])
    assert kube.log == [] and pinot.tables == {"events": "consuming"}
    assert lines[1:] == ["controller: would restart pinot-controller-0; changes StatefulSet/pinot-controller",
                         "broker: would restart pinot-broker-1, pinot-broker-0; changes StatefulSet/pinot-broker",
                         "server-a: would restart pinot-server-a-1, pinot-server-a-0; changes "
                         "StatefulSet/pinot-server-a"]
    assert result["changes"] == [f"StatefulSet/pinot-{g} spec.template" for g in ("controller", "broker", "server-a")]
    assert [d["after_header"] for d in run.last.diffs] == ["StatefulSet/pinot-controller", "StatefulSet/pinot-broker",
                                                           "StatefulSet/pinot-server-a"]


@pytest.mark.parametrize("case, expected", [
    ("unready", "Pre-flight failed: node group broker is not Ready (1/2). Nothing was restarted."),
    ("order", "Pre-flight failed: upgrading in the order broker, controller, server would leave broker group broker "
              "(1.5.1) newer than controller group controller (1.4.0) after the broker groups"),
])
def test_the_preflight_stops_before_any_write(case, expected):
    description = cluster()
    kube = FakeKube(description, unready=["pinot-broker-0"] if case == "unready" else ())
    options = {"order": ["broker", "controller", "server"]} if case == "order" else {}
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, FakePinot(), description, settle_timeout=0, **options)
    assert str(stopped.value).startswith(expected)
    assert kube.log == []


def test_an_unknown_table_to_pause_is_refused_by_the_preflight():
    kube = FakeKube(cluster())
    with pytest.raises(SpecError) as refused:
        run(kube, FakePinot(tables=["events"]), paused_tables=["events", "nope"])
    assert refused.value.field == "paused_tables[1]" and "no REALTIME table named 'nope'" in str(refused.value)
    assert kube.log == []


def test_tables_are_paused_before_the_first_restart_only_when_something_rolls():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot(tables=["events"])
    result, _lines, _warnings, _sleeps = run(kube, pinot, description, paused_tables=["events"])
    assert pinot.log[0] == ("paused", "events") and pinot.log[-1] == ("consuming", "events")
    assert result["paused_tables"] == result["resumed_tables"] == ["events"]
    pinot.log.clear()
    result, _lines, _warnings, _sleeps = run(kube, pinot, description, paused_tables=["events"])
    assert [e for e in pinot.log if e[0] in ("paused", "consuming")] == [] and result["changes"] == []


def test_batches_share_a_check_and_pauses_follow_each_step_that_restarted():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot()
    result, _lines, _warnings, sleeps = run(kube, pinot, description, group_batch_size={"server-a": 2},
                                            pause_between_steps=3)
    assert [s["label"] for s in result["steps"]] == ["controller 1/1", "broker 1/2", "broker 2/2", "server-a 1/1"]
    assert ("restart_check", "server", ("server-a_1", "server-a_0")) in pinot.log
    assert ("apply", "server-a", 0) in kube.writes() and ("apply", "server-a", 1) not in kube.writes()
    assert sleeps == [3, 3, 3, 3]


def test_explicit_groups_and_orders():
    description = cluster()
    assert [g["name"] for g in planned_groups(description)[1]] == ["controller", "broker", "server-a"]
    assert [g["name"] for g in planned_groups(description, ["server", "broker", "controller"])[1]] == \
        ["server-a", "broker", "controller"]
    assert [g["name"] for g in planned_groups(description, node_groups=["broker"])[1]] == ["broker"]
    with pytest.raises(SpecError, match=r"^order: leaves out the role\(s\) server"):
        planned_groups(description, ["controller", "broker"])
    with pytest.raises(SpecError, match=r"^node_groups\[1\]: 'nope' is not a node group"):
        planned_groups(description, node_groups=["broker", "nope"])


@pytest.mark.parametrize("options, field", [
    ({"batch_size": 0}, "batch_size"),
    ({"group_batch_size": {"nope": 1}}, "group_batch_size.nope"),
    ({"group_batch_size": {"broker": "2"}}, "group_batch_size.broker"),
    ({"gate_timeouts": {"brokers": 10}}, "gate_timeouts.brokers"),
    ({"gate_timeouts": {"broker": -1}}, "gate_timeouts.broker"),
    ({"instance_map": {"broker": "Broker_x"}}, "instance_map.broker"),
    ({"instance_map": {"broker": {"instance": "Broker_x", "url": "http://x"}}}, "instance_map.broker"),
    ({"rollout_timeout": -5}, "rollout_timeout"),
    ({"node_groups": ["nope"]}, "node_groups[0]"),
])
def test_bad_options_are_refused_naming_the_field(options, field):
    with pytest.raises(SpecError) as refused:
        check_options(cluster(), options)
    assert refused.value.field == field


def test_a_run_whose_play_ended_stops_before_the_next_step():
    description = cluster()
    kube, pinot = FakeKube(description), FakePinot()
    restarted = []
    rollout = Rollout(kube, pinot, description, {"restart_check_timeout": 0}, report=restarted.append,
                      gone=lambda: len(restarts(kube)) >= 2)
    with pytest.raises(RolloutStopped) as stopped:
        rollout.run()
    assert str(stopped.value) == ("The play that started this rollout has ended; stopped before broker 2/2. Rerun "
                                  "to resume.")
    assert restarts(kube) == ["pinot-controller-0", "pinot-broker-1"]


def test_a_rollback_half_way_restarts_only_the_pods_on_the_abandoned_revision():
    description = cluster(image=OLD)
    kube, pinot = FakeKube(description), FakePinot()
    # An upgrade to NEW stopped after server-a-1; the description is back at OLD.
    kube.groups["server-a"].update(template=NEW, partition=1)
    kube.groups["server-a"]["pods"][1] = NEW
    result, lines, _warnings, _sleeps = run(kube, pinot, description, order=["server", "broker", "controller"],
                                            preflight=False)
    assert restarts(kube) == ["pinot-server-a-1"]
    assert [step["restarted"] for step in result["steps"]] == [["pinot-server-a-1"], []]
    assert "server-a 2/2 pinot-server-a-0: already at the new revision" in "\n".join(lines)
    assert kube.writes() == [("apply", "server-a", 1), ("apply", "server-a", 0)]
