"""The reconcile engine's flow with an in-memory handler: what it writes, predicts and reports."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, diff_paths, redact, secret_values
from ansible_collections.pinotops.k8s.plugins.module_utils.reconcile import Handler, Plan, reconcile, reconcile_many


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

    def validate(self, desired, live):
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
