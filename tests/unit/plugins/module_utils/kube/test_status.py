"""What Kubernetes says of a StatefulSet's rollout and its pods (kube/status.py), on objects as the apiserver
returns them."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.kube.status import (
    last_pod_events,
    rolled_pods,
    rollout_status,
    waiting_reason,
)


def sts(*, replicas=3, generation=2, observed=2, ready=3, updated=3, current="r1", update="r1", partition=None,
        status_replicas=None):
    strategy = {"type": "RollingUpdate"}
    if partition is not None:
        strategy["rollingUpdate"] = {"partition": partition}
    return {"metadata": {"name": "x", "generation": generation},
            "spec": {"replicas": replicas, "updateStrategy": strategy},
            "status": {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated,
                       "currentRevision": current, "updateRevision": update,
                       "replicas": replicas if status_replicas is None else status_replicas}}


def test_rollout_status_follows_kubectl():
    assert rollout_status(sts())[0]
    assert rollout_status(sts(observed=1)) == (
        False, "waiting for the StatefulSet controller to observe the new generation")
    assert rollout_status(sts(observed=None))[0] is False
    assert rollout_status(sts(ready=2)) == (False, "2 of 3 pods ready")
    done, message = rollout_status(sts(updated=1, update="r2"))
    assert not done and "1 of 3 pods at revision r2" in message
    # partition: done when the pods at or above the partition are updated, revisions may differ
    assert rollout_status(sts(partition=2, updated=1, update="r2"))[0]
    assert not rollout_status(sts(partition=1, updated=1, update="r2"))[0]
    assert not rollout_status(sts(status_replicas=4))[0]
    onde = sts(update="r2")
    onde["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert rollout_status(onde)[0]


def pod(phase="Pending", conditions=(), containers=(), init=()):
    return {"status": {"phase": phase, "conditions": [dict(c) for c in conditions],
                       "containerStatuses": list(containers), "initContainerStatuses": list(init)}}


@pytest.mark.parametrize(("stuck", "reason"), [
    (pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                      "message": "0/7 nodes are available: 7 Insufficient memory."}]),
     "Unschedulable: 0/7 nodes are available: 7 Insufficient memory."),
    (pod(containers=[{"name": "pinot", "state": {"waiting": {
        "reason": "ErrImageNeverPull",
        "message": 'Container image "apachepinot/pinot:9.9" is not present with pull policy of Never'}}}]),
     'pinot: ErrImageNeverPull: Container image "apachepinot/pinot:9.9" is not present with pull policy of Never'),
    (pod("Running", containers=[{"name": "pinot", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]),
     "pinot: CrashLoopBackOff (last exit 1, Error)"),
    (pod("Running", conditions=[{"type": "ContainersReady", "status": "False",
                                 "message": "containers with unready status: [pinot]"}],
         containers=[{"name": "pinot", "state": {"running": {}}}]),
     "running, not ready: containers with unready status: [pinot]"),
    (pod(containers=[{"name": "pinot", "state": {"waiting": {"reason": "ContainerCreating"}}}]), "Pending"),
    ({"status": {}}, "no phase"),
])
def test_a_pod_that_is_not_ready_says_why(stuck, reason):
    assert waiting_reason(stuck) == reason


def test_the_newest_event_of_each_pod_is_its_last_event():
    def event(name, reason, message, when, kind="Pod"):
        return {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "message": message,
                "lastTimestamp": when}

    events = [
        event("pinot-broker-0", "Scheduled", "Successfully assigned", "2026-12-02T01:00:00Z"),
        event("pinot-broker-0", "Failed", 'Container image "apachepinot/pinot:9.9"\n is not present',
              "2026-12-02T01:00:05Z"),
        event("pinot-broker-0", "Pulled", "older", "2026-12-02T01:00:01Z"),
        event("pinot-broker", "SuccessfulCreate", "create Pod", "2026-12-02T01:00:09Z", kind="StatefulSet"),
        {"involvedObject": {"kind": "Pod", "name": "pinot-server-0"}, "reason": "FailedScheduling",
         "eventTime": "2026-12-02T01:00:02.000000Z", "message": "0/7 nodes are available"},
    ]
    assert last_pod_events(events) == {
        "pinot-broker-0": 'Failed: Container image "apachepinot/pinot:9.9" is not present',
        "pinot-server-0": "FailedScheduling: 0/7 nodes are available",
    }


def listed_pod(name, uid, revision):
    return {"kind": "Pod", "metadata": {"name": name, "uid": uid, "labels": {"controller-revision-hash": revision},
                                        "ownerReferences": [{"kind": "StatefulSet", "name": name.rsplit("-", 1)[0]}]}}


def test_rolled_pods_are_those_replaced_on_another_revision():
    before = [listed_pod("s-0", "a", "r1"), listed_pod("s-1", "b", "r1"), listed_pod("s-2", "c", "r1")]
    after = [listed_pod("s-1", "b", "r1"),  # untouched (held below a partition)
             listed_pod("s-0", "a2", "r2"),  # rolled
             listed_pod("s-2", "c2", "r1"),  # restarted on the same revision: not this run's rollout
             listed_pod("s-3", "d", "r2")]  # new: a scale-up, recorded as no roll
    assert [(p["metadata"]["uid"], b["metadata"]["uid"]) for p, b in rolled_pods(before, after)] == [("a2", "a")]
