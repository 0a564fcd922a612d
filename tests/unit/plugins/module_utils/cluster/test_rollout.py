"""The rollout's decisions, on a fake Kubernetes side (StatefulSets with revisions and partitions) and a fake Pinot
side (gates that pass or fail as told). The real sides are driven by tests/integration/test_roles.py; their zone
step parts (a restart check on the controller's views, the pods' deletion) are also checked here on fake clients."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.groups import WaitTimeout
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout import (
    DELETE_HINT,
    OBSERVE_INTERVAL,
    KubernetesSide,
    PinotSide,
    Rollout,
    RolloutStopped,
    planned_groups,
    validate_options,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import REVISION_LABEL
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sError

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

    def __init__(self, description, image=OLD, timeout_at=None, unready=(), delete_forbidden=False):
        self.groups = {g["name"]: {"replicas": g["replicas"], "template": image, "partition": 0,
                                   "pods": {o: image for o in range(g["replicas"])}}
                       for g in description["node_groups"]}
        self.desired = {g["name"]: g["image"] for g in description["node_groups"]}
        self.timeout_at = timeout_at  # (group, partition) whose wait times out; for a zone step, (group, "zone")
        self.unready = unready
        self.delete_forbidden = delete_forbidden
        self.log = []
        self.stops = []

    def status(self, name):
        group = self.groups[name]
        pods = [{"name": f"pinot-{name}-{o}", "instance": f"{name}_{o}", "revision": rev, "image": rev,
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

    def write(self, name):
        """A zone step's write: the new template without partition, not waited for (nothing restarts here: the
        StatefulSet controller's own one-at-a-time replacement is what the deletion overtakes)."""
        changes = self.changes_for(name, 0)
        self.log.append(("write", name))
        self.groups[name].update(template=self.desired[name], partition=0)
        return changes

    def validate_delete_with_server(self, pods):
        self.log.append(("validate_delete_with_server", tuple(pods)))
        if self.delete_forbidden:
            raise K8sError("dry-run delete", "Pod", pods[0], 403, f'pods "{pods[0]}" is forbidden')

    def restart(self, pods):
        """Deletes the named pods together; their StatefulSets recreate those not at the template's revision."""
        self.log.append(("delete", tuple(pod for names in pods.values() for pod in names)))
        late = [name for name in pods if (name, "zone") == self.timeout_at]
        if late:
            raise WaitTimeout({name: "0 of 2 pods ready" for name in late}, 20,
                              [f"pinot-{late[0]}-0 (running, not ready)", f"pinot-{late[0]}-1 (not recreated yet)"])
        for name, names in pods.items():
            group = self.groups[name]
            for pod in names:
                ordinal = int(pod.rsplit("-", 1)[1])
                if group["pods"][ordinal] != group["template"]:
                    group["pods"][ordinal] = group["template"]
                    self.log.append(("restart", pod))
        return {name: self.status(name) for name in pods}

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


def test_a_group_not_rolled_may_be_missing_one_rolled_may_not():
    """The pinot_cluster role rolls a role's changed groups before it creates the next role's new groups."""
    description = cluster()
    description["node_groups"][0]["image"] = OLD  # the new group: of a version the brokers may run beside
    kube = FakeKube(description)
    del kube.groups["server-a"]
    _result, lines, _warnings, _sleeps = run(kube, FakePinot(), description, node_groups=["controller", "broker"])
    assert lines[0].startswith("pre-flight passed: 2 node groups Ready")
    assert restarts(kube) == ["pinot-controller-0", "pinot-broker-1", "pinot-broker-0"]
    kube = FakeKube(description)
    del kube.groups["server-a"]
    with pytest.raises(RolloutStopped, match=r"^Pre-flight failed: node group server-a is not Ready \(missing\)"):
        run(kube, FakePinot(), description, node_groups=["broker", "server-a"])
    assert kube.log == []


def test_the_version_order_is_judged_on_the_image_the_pods_run():
    """A template written held (the pinot_cluster role) is not what runs: the controller's pods still run 1.4.0."""
    description = cluster()
    kube = FakeKube(description)
    kube.groups["controller"]["template"] = NEW
    with pytest.raises(RolloutStopped, match=r"would leave broker group broker \(1.5.1\) newer than controller "
                                             r"group controller \(1.4.0\) after the broker groups"):
        run(kube, FakePinot(), description, settle_timeout=0, order=["broker", "controller", "server"])
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
    ({"server_steps": "zones"}, "server_steps"),
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
        validate_options(cluster(), options)
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


# -- a zone at a time ------------------------------------------------------------------------------------------

def zoned(image=NEW):
    """Two server groups in zone-a (one listed after the others), one in zone-b, one in no zone; brokers in two."""
    return normalise_cluster({
        "name": "pinot", "namespace": "ns", "image": image, "zookeeper": {"address": "zk:2181"},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 1, "overrides": {"storage": {"size": "1Gi"}}},
            {"name": "broker", "role": "broker", "replicas": 2, "zones": ["zone-a", "zone-b"]},
            {"name": "server-a", "role": "server", "replicas": 2, "zone": "zone-a"},
            {"name": "server-b", "role": "server", "replicas": 2, "zone": "zone-b"},
            {"name": "server-x", "role": "server", "replicas": 2},
            {"name": "server-a2", "role": "server", "replicas": 1, "zone": "zone-a"},
        ]})


ZONE_A = ("pinot-server-a-1", "pinot-server-a-0", "pinot-server-a2-0")
ZONE_B = ("pinot-server-b-1", "pinot-server-b-0")
SERVERS = ["server-a", "server-b", "server-x", "server-a2"]


def journal(kube, pinot):
    """One log for both sides, so the test sees the order of checks, writes, deletions and gates."""
    kube.log = pinot.log = []
    return kube.log


def test_zone_steps_check_every_server_of_the_zone_then_write_then_delete_them_together():
    description = zoned()
    kube, pinot = FakeKube(description), FakePinot()
    log = journal(kube, pinot)
    result, lines, warnings, _sleeps = run(kube, pinot, description, server_steps="zone")
    # Controller and brokers (two zones) pod by pod as always.
    assert log[:6] == [("restart_check", "controller", ("controller_0",)), ("apply", "controller", 0),
                       ("restart", "pinot-controller-0"), ("gate", "pinot-controller-0"),
                       ("restart_check", "broker", ("broker_1",)), ("apply", "broker", 1)]
    servers = log[log.index(("gate", "pinot-broker-0")) + 1:]
    zone_a = [(e[0], e[1]) if e[0] == "restart" else e for e in servers[:14]]
    assert zone_a == [
        ("restart_check", "server", ("server-a_1", "server-a_0", "server-a2_0")),  # the whole zone, judged once
        ("validate_delete_with_server", ZONE_A),
        ("write", "server-a"), ("write", "server-a2"),  # both templates before any pod goes
        ("delete", ZONE_A),  # together, in one step
        ("restart", "pinot-server-a-1"), ("restart", "pinot-server-a-0"), ("restart", "pinot-server-a2-0"),
        ("apply", "server-a", 0), ("apply", "server-a2", 0),
        ("gate", "pinot-server-a-1"), ("gate", "pinot-server-a-0"), ("gate", "pinot-server-a2-0"),
        ("restart_check", "server", ("server-b_1", "server-b_0"))]
    assert ("delete", ZONE_B) in servers
    # server-x is in no zone: pod by pod, after the zones.
    assert servers[-8:] == [("restart_check", "server", ("server-x_1",)), ("apply", "server-x", 1),
                            ("restart", "pinot-server-x-1"), ("gate", "pinot-server-x-1"),
                            ("restart_check", "server", ("server-x_0",)), ("apply", "server-x", 0),
                            ("restart", "pinot-server-x-0"), ("gate", "pinot-server-x-0")]
    steps = {s["label"]: s for s in result["steps"]}
    assert list(steps) == ["controller 1/1", "broker 1/2", "broker 2/2", "zone zone-a 1/2", "zone zone-b 2/2",
                           "server-x 1/2", "server-x 2/2"]
    assert steps["zone zone-a 1/2"]["zone"] == "zone-a" and "zone" not in steps["server-x 1/2"]
    assert steps["zone zone-a 1/2"]["group"] == "server-a, server-a2"
    assert steps["zone zone-a 1/2"]["pods"] == steps["zone zone-a 1/2"]["restarted"] == list(ZONE_A)
    assert [len(s["gates"]) for s in steps.values()][3:5] == [3, 2]
    assert "zone zone-a 1/2 pinot-server-a2-0: safe to restart, restarted, Ready after 0.0 s; Pinot gate passed " \
           "after 0.5 s (live)" in lines
    note = "server_steps=zone: server-x not in exactly one zone, stepped pod by pod"
    assert warnings == [note] and lines[1] == note
    assert "StatefulSet/pinot-server-a2 spec.template" in result["changes"]


class FakeController:
    """What a restart check reads from the Pinot controller: live instances, tables, external views."""

    def __init__(self, live, views):
        self.live, self.views = live, views

    def get(self, path, params=None, missing_ok=False):
        return {"/liveinstances": {"instances": self.live}, "/tables": {"tables": list(self.views)}}[path]

    def get_many(self, paths):
        return [self.views[path.split("/")[2]] for path in paths]


def test_a_zone_the_cluster_cannot_lose_stops_naming_the_segments_and_nothing_is_written_or_deleted():
    description = zoned()
    kube = FakeKube(description)
    # Each segment has a replica outside every single server, so a pod-by-pod check passes each of them; events_1
    # lives only in zone-a, events_2 also on server-b-1, which is not live. events_0 has one in zone-b.
    views = {"events": {"OFFLINE": {"events_0": {"server-a_1": "ONLINE", "server-b_0": "ONLINE"},
                                    "events_1": {"server-a_0": "ONLINE", "server-a2_0": "ONLINE"},
                                    "events_2": {"server-a_0": "ONLINE", "server-b_1": "ONLINE"}}}}
    pinot = PinotSide(FakeController(["server-a_0", "server-a_1", "server-a2_0", "server-b_0"], views), {})
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, pinot, description, server_steps="zone", node_groups=["server-a", "server-b", "server-a2"],
            preflight=False)
    message = str(stopped.value)
    assert message.startswith("Upgrade stopped at zone zone-a (node groups server-a, server-a2), step zone zone-a "
                              "1/2, pod(s) pinot-server-a-1, pinot-server-a-0, pinot-server-a2-0, gate 'server "
                              "restart_safe': Pinot gate 'restart_safe' failed for server zone zone-a 1/2 after ")
    assert ("2 segment(s) would have no serving replica while server-a2_0, server-a_0, server-a_1 restarts: "
            "events_OFFLINE/events_1; events_OFFLINE/events_2. Nothing of this step was restarted;") in message
    assert "add server to accept_unavailable" in message
    assert {k: v for k, v in stopped.value.stop.items() if k != "reason"} == {
        "group": "server-a, server-a2", "zone": "zone-a", "step": "zone zone-a 1/2", "pods": list(ZONE_A),
        "gate": "server restart_safe"}
    assert kube.log == []  # no dry-run delete, no write, no deletion
    assert kube.stops == [("Pod", list(ZONE_A), "Upgrade stopped by gate 'server restart_safe': "
                           + stopped.value.stop["reason"])]


def test_an_unsafe_zone_goes_when_servers_accept_unavailability():
    description = zoned()
    kube, pinot = FakeKube(description), FakePinot(unsafe=["server"])
    _result, lines, warnings, _sleeps = run(kube, pinot, description, server_steps="zone", node_groups=["server-b"],
                                            accept_unavailable=["server"])
    assert warnings == ["Pinot gate 'restart_safe' failed for server zone zone-b 1/1 after 0.0s: the only live one "
                        "(not enforced)"]
    assert ("delete", ZONE_B) in kube.log
    assert "zone zone-b 1/1 pinot-server-b-1: unsafe, accepted, restarted, Ready after 0.0 s" in "\n".join(lines)


def test_a_zone_rerun_restarts_only_the_pods_left_on_the_old_revision_then_writes_nothing():
    description = zoned()
    kube, pinot = FakeKube(description), FakePinot()
    # A killed zone step (controller and brokers done): zone-a's templates were written, server-a-1 and
    # server-a2-0 came back updated.
    for name in ("controller", "broker"):
        kube.groups[name].update(template=NEW, pods=dict.fromkeys(kube.groups[name]["pods"], NEW))
    kube.groups["server-a"].update(template=NEW, pods={0: OLD, 1: NEW})
    kube.groups["server-a2"].update(template=NEW, pods={0: NEW})
    log = journal(kube, pinot)
    result, lines, _warnings, _sleeps = run(kube, pinot, description, server_steps="zone",
                                            node_groups=["server-a", "server-a2"])
    assert log == [("restart_check", "server", ("server-a_0",)), ("validate_delete_with_server", ("pinot-server-a-0",)),
                   ("write", "server-a"), ("delete", ("pinot-server-a-0",)), ("restart", "pinot-server-a-0"),
                   ("apply", "server-a", 0), ("gate", "pinot-server-a-1"), ("gate", "pinot-server-a-0")]
    assert "server-a2: every pod at revision apachepinot/pinot:1.5.1, nothing to restart" in lines
    assert "zone zone-a 1/1 pinot-server-a-1: already at the new revision; Pinot gate passed after 0.5 s (live)" \
        in lines
    assert [(s["label"], s["pods"], s["restarted"]) for s in result["steps"]] == [
        ("zone zone-a 1/1", ["pinot-server-a-1", "pinot-server-a-0"], ["pinot-server-a-0"])]
    log.clear()
    result, _lines, _warnings, _sleeps = run(kube, pinot, description, server_steps="zone",
                                             node_groups=["server-a", "server-a2"])
    assert log == [] and result["steps"] == [] and result["changes"] == []


def test_check_mode_predicts_the_zone_steps_and_writes_nothing():
    description = zoned()
    kube, pinot = FakeKube(description), FakePinot()
    log = journal(kube, pinot)
    result, lines, _warnings, _sleeps = run(kube, pinot, description, check_mode=True, server_steps="zone",
                                            node_groups=SERVERS)
    assert lines[2:] == [
        "zone zone-a 1/2 (server-a, server-a2): would restart pinot-server-a-1, pinot-server-a-0, pinot-server-a2-0 "
        "together; changes StatefulSet/pinot-server-a, StatefulSet/pinot-server-a2",
        "zone zone-b 2/2 (server-b): would restart pinot-server-b-1, pinot-server-b-0 together; changes "
        "StatefulSet/pinot-server-b",
        "server-x: would restart pinot-server-x-1, pinot-server-x-0; changes StatefulSet/pinot-server-x"]
    # Only the dry-run deletions that prove the permission: no write, deletion, check or gate.
    assert log == [("validate_delete_with_server", ZONE_A), ("validate_delete_with_server", ZONE_B)]
    assert result["steps"] == [] and len(result["changes"]) == 4


def test_a_zone_whose_pods_do_not_come_back_stops_naming_them_and_touches_no_other_zone():
    description = zoned()
    kube = FakeKube(description, timeout_at=("server-a", "zone"))
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, FakePinot(), description, server_steps="zone", node_groups=SERVERS)
    message = str(stopped.value)
    assert "step zone zone-a 1/2, pod(s) pinot-server-a-1, pinot-server-a-0, pinot-server-a2-0, gate 'kubernetes " \
           "rollout': rollout not complete after 20s: server-a: 0 of 2 pods ready; pods not Ready: pinot-server-a-0 " \
           "(running, not ready), pinot-server-a-1 (not recreated yet)" in message
    assert "apply it to server-a at partition 0, delete the pod, then rerun" in message
    assert kube.stops[0][:2] == ("StatefulSet", ["pinot-server-a"])  # the group that is late, not server-a2
    assert not any(entry[1] in ("server-b", ZONE_B) for entry in kube.log)


def test_a_missing_delete_permission_stops_the_zone_before_anything_is_written():
    description = zoned()
    kube = FakeKube(description, delete_forbidden=True)
    with pytest.raises(RolloutStopped) as stopped:
        run(kube, FakePinot(), description, server_steps="zone", node_groups=["server-a", "server-a2"])
    assert str(stopped.value).startswith("Upgrade stopped at zone zone-a (node groups server-a, server-a2), step zone "
                                         "zone-a 1/1: dry-run delete Pod pinot-server-a-1 failed: HTTP 403: ")
    assert stopped.value.stop["zone"] == "zone-a"
    assert kube.log == [("validate_delete_with_server", ZONE_A)]


@pytest.mark.parametrize("options", [{}, {"server_steps": "serial"}])
def test_servers_in_zones_go_pod_by_pod_unless_asked(options):
    description = zoned()
    kube, pinot = FakeKube(description), FakePinot()
    result, _lines, warnings, _sleeps = run(kube, pinot, description, node_groups=SERVERS, **options)
    assert kube.writes() == [("apply", name, partition) for name, replicas in
                             (("server-a", 2), ("server-b", 2), ("server-x", 2), ("server-a2", 1))
                             for partition in range(replicas - 1, -1, -1)]
    assert not any(entry[0] in ("write", "delete", "validate_delete_with_server") for entry in kube.log)
    assert warnings == [] and not any("zone" in step for step in result["steps"])


# -- the Kubernetes side of a zone step ---------------------------------------------------------------------------

class FakeClient:
    """StatefulSet server-a (3 pods) just written: its controller has not seen the new template at the first list.
    Pods: server-a-1 was recreated at the new revision already, server-a-2 is being replaced by the controller.
    Deleted pods come back with a new uid at the new revision."""

    def __init__(self, forbidden=False):
        self.forbidden = forbidden
        self.calls = []
        self.pods = {f"pinot-server-a-{o}": {"uid": f"u{o}", "revision": rev}
                     for o, rev in ((0, "old"), (1, "new"), (2, "old"))}

    def sts(self, observed):
        return {"kind": "StatefulSet", "metadata": {"name": "pinot-server-a", "namespace": "ns", "generation": 2,
                                                    "labels": {"pinotops.io/node-group": "server-a",
                                                               "app.kubernetes.io/component": "server"}},
                "spec": {"replicas": 3, "serviceName": "pinot-server-a-headless",
                         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}},
                "status": {"observedGeneration": 2 if observed else 1, "readyReplicas": 3, "updatedReplicas": 3,
                           "currentRevision": "new", "updateRevision": "new" if observed else "old"}}

    def pod_objects(self):
        return [{"kind": "Pod", "metadata": {
            "name": name, "namespace": "ns", "uid": pod["uid"], "labels": {REVISION_LABEL: pod["revision"]},
            "ownerReferences": [{"kind": "StatefulSet", "name": "pinot-server-a"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for name, pod in self.pods.items()]

    def list(self, kind, namespace=None, selector=None):
        self.calls.append(("list", kind))
        if kind == "StatefulSet":
            return [self.sts(observed=self.calls.count(("list", "StatefulSet")) > 1)]
        return self.pod_objects() if kind == "Pod" else []

    def list_versioned(self, kind, namespace=None, selector=None):
        return self.list(kind, namespace, selector), "7"

    def delete(self, kind, name, namespace=None, dry_run=False, propagation="Background", *, uid=None):
        self.calls.append(("dry-run delete" if dry_run else "delete", name, uid))
        if self.forbidden:
            raise K8sError("dry-run delete", kind, name, 403, f'pods "{name}" is forbidden')
        if not dry_run:
            self.pods[name] = {"uid": uid + "-new", "revision": "new"}
        return True


class FakeRecorder:
    def __init__(self):
        self.recorded = []

    def record(self, involved, reason, message, event_type="Normal"):
        self.recorded.append((involved["metadata"]["name"], reason, message))


def test_the_zone_pods_are_deleted_once_their_statefulset_knows_the_new_template_each_only_if_still_stale():
    client, recorder, slept = FakeClient(), FakeRecorder(), []
    side = KubernetesSide(client, zoned(), rollout_timeout=60, recorder=recorder, sleep=slept.append)
    status = side.restart({"server-a": ["pinot-server-a-2", "pinot-server-a-1", "pinot-server-a-0"]})
    deletions = [call for call in client.calls if call[0] == "delete"]
    # Not before the controller observed the template (the first list shows the old revision); then only the pods
    # still on the old revision, each with its uid as precondition.
    assert client.calls[:2] == [("list", "StatefulSet"), ("list", "StatefulSet")] and slept[0] == OBSERVE_INTERVAL
    assert deletions == [("delete", "pinot-server-a-0", "u0"), ("delete", "pinot-server-a-2", "u2")]
    assert status["server-a"]["update_revision"] == "new"
    assert {p["revision"] for p in status["server-a"]["pods"]} == {"new"}
    assert [(name, reason) for name, reason, _message in recorder.recorded] == [
        ("pinot-server-a-0", "Rolled"), ("pinot-server-a-2", "Rolled")]
    assert "together with the other pods of its zone" in recorder.recorded[0][2]


def test_a_missing_delete_permission_is_named_by_the_dry_run():
    side = KubernetesSide(FakeClient(forbidden=True), zoned(), rollout_timeout=60, recorder=FakeRecorder())
    with pytest.raises(K8sError) as refused:
        side.validate_delete_with_server(["pinot-server-a-1"])
    assert refused.value.status == 403 and str(refused.value).endswith(DELETE_HINT)
    assert side.client.calls == [("dry-run delete", "pinot-server-a-1", None)]
