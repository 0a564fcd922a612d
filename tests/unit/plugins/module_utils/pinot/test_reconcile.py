"""The reconcile engine's flow with an in-memory handler: what it writes, predicts and reports."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, diff_paths, redact, secret_values
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import (
    Handler,
    Plan,
    reconcile,
    reconcile_many,
)


class MemoryHandler(Handler):
    """Stores one object in a dict; `mangle` simulates a server that rewrites what it stores."""

    kind = "thing"

    def __init__(self, store, name, mangle=None, reject=None):
        super().__init__(client=None, name=name)
        self.store, self.mangle, self.reject, self.writes = store, mangle, reject, []

    def read(self):
        return self.store.get(self.name)

    def normalise(self, obj):
        return {key: value for key, value in obj.items() if key != "server_added"}

    def validate_with_server(self, desired, live):
        if self.reject:
            raise SpecError(self.reject, "rejected")

    def create(self, desired):
        self.writes.append("create")
        self.store[self.name] = (self.mangle or dict)(desired)

    def update(self, desired, live):
        self.writes.append("update")
        self.store[self.name] = (self.mangle or dict)(desired)

    def delete(self, live):
        self.writes.append("delete")
        del self.store[self.name]


def test_noop_when_only_server_added_fields_differ():
    store = {"a": {"x": 1, "server_added": True}}
    handler = MemoryHandler(store, "a")
    outcome = reconcile(handler, {"x": 1}, "present", check_mode=False)
    assert (outcome["changed"], handler.writes, outcome["changes"]) == (False, [], [])


def test_check_mode_predicts_and_writes_nothing():
    store = {"a": {"x": 1}}
    handler = MemoryHandler(store, "a")
    outcome = reconcile(handler, {"x": 2}, "present", check_mode=True)
    assert outcome["changed"] is True
    assert outcome["changes"] == ["x"]
    assert (handler.writes, store["a"]) == ([], {"x": 1})
    assert (outcome["before"], outcome["after"]) == ({"x": 1}, {"x": 2})


def test_create_update_delete_and_absent_noop():
    store = {}
    assert reconcile(MemoryHandler(store, "a"), {"x": 1}, "present", False)["changes"] == [". (created)"]
    assert reconcile(MemoryHandler(store, "a"), {"x": 2}, "present", False)["changes"] == ["x"]
    assert reconcile(MemoryHandler(store, "a"), None, "absent", False)["changes"] == [". (deleted)"]
    handler = MemoryHandler(store, "a")
    assert reconcile(handler, None, "absent", False)["changed"] is False
    assert handler.writes == []


def test_server_rewriting_the_object_is_reported():
    store = {}
    outcome = reconcile(MemoryHandler(store, "a", mangle=lambda d: dict(d, x=0)), {"x": 1}, "present", False)
    assert outcome["warnings"] and "x" in outcome["warnings"][0]


def test_bulk_validates_everything_before_the_first_write():
    store = {}
    good, bad = MemoryHandler(store, "a"), MemoryHandler(store, "b", reject="table.foo")
    with pytest.raises(SpecError) as raised:
        reconcile_many([Plan(good, {"x": 1}, "present"), Plan(bad, {"x": 1}, "present")], check_mode=False)
    assert raised.value.field == "definitions[1].table.foo"
    assert good.writes == [] and store == {}


def test_diff_paths_and_redaction():
    assert diff_paths({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "d": 3}}) == ["a.c (removed)", "a.d (added)"]
    config = {"streamConfigs": {"sasl.jaas.config": "user=u password=p", "stream.kafka.topic.name": "t"}}
    assert redact(config)["streamConfigs"] == {"sasl.jaas.config": "********", "stream.kafka.topic.name": "t"}
    assert secret_values(config) == {"user=u password=p"}


class GoverningHandler(MemoryHandler):
    """Also governs a `served` value beside its object (as a table governs where its segments live)."""

    observed = []

    def __init__(self, store, name, served):
        super().__init__(store, name)
        self.served = served

    @classmethod
    def observe(cls, plans):
        cls.observed.append([plan.handler.name for plan in plans if plan.live is not None])

    def converge(self, live, changes, check_mode):
        if self.served == "in line":
            return None
        self.writes.append(f"converge after {changes}" + (" (predicted)" if check_mode else ""))
        return {"served": self.served}, {"served": "in line"}


def test_what_an_object_governs_is_brought_in_line_after_its_write_and_reported():
    store = {"a": {"x": 1}, "b": {"x": 1}}
    handler = GoverningHandler(store, "a", served="astray")
    outcome = reconcile(handler, {"x": 2}, "present", check_mode=False)
    assert handler.writes == ["update", "converge after ['x']"]
    assert (outcome["changed"], outcome["changes"]) == (True, ["x", "served"])
    assert (outcome["before"], outcome["after"]) == ({"x": 1, "served": "astray"}, {"x": 2, "served": "in line"})

    unchanged = GoverningHandler(store, "b", served="astray")
    predicted = reconcile(unchanged, {"x": 1}, "present", check_mode=True)
    assert unchanged.writes == ["converge after [] (predicted)"]
    assert (predicted["changed"], predicted["changes"]) == (True, ["served"])

    in_line = GoverningHandler(store, "b", served="in line")
    assert reconcile(in_line, {"x": 1}, "present", check_mode=False)["changed"] is False
    gone = GoverningHandler(store, "b", served="astray")
    reconcile(gone, None, "absent", check_mode=False)
    assert gone.writes == ["delete"]  # nothing governed once the object is gone


def test_observe_sees_every_plan_read_once_before_any_check():
    GoverningHandler.observed.clear()
    store = {"a": {"x": 1}}
    plans = [Plan(GoverningHandler(store, name, served="in line"), {"x": 1}, "present") for name in ("a", "b")]
    reconcile_many(plans, check_mode=True)
    assert GoverningHandler.observed == [["a"]]
