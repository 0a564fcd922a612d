"""The test bed's pod history and restart clock: when a deletion was asked, how long pods took to come back."""

import time

from tests.testbed.plays import RestartClock, deletion_asked


def test_deletion_asked_is_the_deadline_less_the_grace_period():
    # A pod deleted at 10:00:00 with 30 s of grace carries deletionTimestamp 10:00:30 (its deadline).
    assert deletion_asked({"deletionTimestamp": "2026-12-03T10:00:30Z", "deletionGracePeriodSeconds": 30}) == \
        "2026-12-03T10:00:00Z"
    assert deletion_asked({"deletionTimestamp": "2026-12-03T10:00:30Z", "deletionGracePeriodSeconds": 0}) == \
        "2026-12-03T10:00:30Z"


def pod(uid, ready=True, deleting=False):
    meta = {"uid": uid, **({"deletionTimestamp": "2026-12-03T10:00:00Z"} if deleting else {})}
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_the_restart_clock_runs_from_the_pod_going_to_its_successor_ready():
    states = iter([
        {"a": pod("a1"), "b": pod("b1")},  # at start
        {"a": pod("a1", deleting=True), "b": pod("b1")},  # a goes
        {"b": pod("b1")},
        {"a": pod("a2", ready=False), "b": pod("b1")},
        {"a": pod("a2"), "b": pod("b1")},  # a back; b never replaced
    ])
    last = {}

    def list_pods():
        last.update(value=next(states, last.get("value")))
        return last["value"]

    with RestartClock(list_pods, interval=0.01) as clock:
        time.sleep(0.3)
    seconds = clock.seconds()
    assert list(seconds) == ["a"]
    assert seconds["a"] > 0.01  # three polls apart: deleting, gone, not Ready, Ready
