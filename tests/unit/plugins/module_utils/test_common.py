# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failure report and the wait loop both stacks share."""

from __future__ import annotations

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import (
    SpecError,
    fail_cleanly,
    poll_until,
    require_library,
)


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, **details):
        raise Failed(details)


def test_a_failure_after_a_write_says_changed_and_names_the_field():
    with pytest.raises(Failed) as failed:
        fail_cleanly(FakeModule(), SpecError("cluster.name", "is empty"), ["PUT /x"], status=409)
    assert failed.value.args[0] == {"msg": "cluster.name: is empty", "changed": True, "executed_requests": ["PUT /x"],
                                    "status": 409, "field": "cluster.name"}


def test_a_failure_before_any_write_is_unchanged():
    with pytest.raises(Failed) as failed:
        fail_cleanly(FakeModule(), ValueError("boom"), [])
    assert failed.value.args[0] == {"msg": "boom", "changed": False, "executed_requests": []}


def fake_time():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds
    return (lambda: now[0]), sleep, slept


def test_poll_until_returns_the_first_value_done():
    clock, sleep, slept = fake_time()
    values = iter([1, 2, 3])
    assert poll_until(lambda: next(values), lambda v: v == 3, 60, ValueError, interval=5, clock=clock, sleep=sleep) == 3
    assert slept == [5, 5]


def test_poll_until_raises_what_the_last_value_makes_or_returns_it():
    clock, sleep, _slept = fake_time()
    with pytest.raises(ValueError, match="last 7"):
        poll_until(lambda: 7, lambda v: False, 10, lambda v: ValueError(f"last {v}"), interval=4, clock=clock,
                   sleep=sleep)
    clock, sleep, slept = fake_time()
    assert poll_until(lambda: 7, lambda v: False, 10, None, interval=4, clock=clock, sleep=sleep) == 7
    assert slept == [4, 4, 2]  # the last sleep ends at the deadline, where read() has its last try


def test_a_missing_library_fails_as_ansible_says_it():
    require_library(FakeModule(), "requests", None)  # found: nothing happens
    with pytest.raises(Failed) as failed:
        require_library(FakeModule(), "requests", "Traceback: no module named requests")
    details = failed.value.args[0]
    assert "requests" in details["msg"] and details["exception"] == "Traceback: no module named requests"
