"""pinot_cluster_config's handler on a scripted controller with Pinot's semantics, as measured on 1.4.0 and 1.5.1:
POST merges the body into the map (a JSON scalar stored as Java writes it), DELETE removes one key and answers 200
whether or not it existed (no network)."""

import json

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import cluster_config
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import reconcile

PINOT_DEFAULTS = {"allowParticipantAutoJoin": "true", "enable.case.insensitive": "true",
                  "pinot.broker.enable.query.limit.override": "true", "default.hyperloglog.log2m": "8"}


class ClusterConfigs(PinotClient):
    def __init__(self, configs=None):
        super().__init__("http://pinot.invalid")
        self.configs = dict(PINOT_DEFAULTS, **(configs or {}))
        self.bodies = []

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "GET":
            assert path == "/cluster/configs"
            return json.loads(json.dumps(self.configs))
        self.executed_requests.append(f"{method} {path}")
        if method == "POST":
            assert path == "/cluster/configs"
            self.bodies.append(body)
            assert all(isinstance(value, str) for value in body.values()), body  # the module sends strings
            self.configs.update(body)
        else:
            assert method == "DELETE" and path.startswith("/cluster/configs/")
            self.configs.pop(path.rsplit("/", 1)[1].replace("%20", " "), None)
        return {"status": "ok"}


def _run(client, check_mode=False, state="present", configs=None, names=None):
    handler, desired = cluster_config.build(client, {"configs": configs, "names": names, "state": state}, check_mode)
    return reconcile(handler, desired, state, check_mode)


def test_only_the_named_keys_are_written_compared_and_shown():
    client = ClusterConfigs({"someone.else": "x"})
    configs = {"cc.parallelism": 4, "cc.enabled": True, "cc.ratio": 0.5, "cc.name": "a b"}
    predicted = _run(client, check_mode=True, configs=configs)
    assert (predicted["changed"], client.executed_requests) == (True, [])
    assert predicted["before"] == {}
    assert predicted["changes"] == [f"{name} (added)" for name in ("cc.enabled", "cc.name", "cc.parallelism",
                                                                   "cc.ratio")]
    assert predicted["after"] == {"cc.enabled": "true", "cc.name": "a b", "cc.parallelism": "4", "cc.ratio": "0.5"}

    applied = _run(client, configs=configs)
    assert client.executed_requests == ["POST /cluster/configs"]
    assert client.bodies == [{"cc.parallelism": "4", "cc.enabled": "true", "cc.ratio": "0.5", "cc.name": "a b"}]
    assert applied["object"] == predicted["after"] and applied["warnings"] == []
    assert client.configs["someone.else"] == "x" and client.configs["enable.case.insensitive"] == "true"

    again = _run(client, configs=configs)
    assert (again["changed"], again["changes"], client.executed_requests) == (False, [], ["POST /cluster/configs"])


def test_an_update_sends_only_the_keys_that_differ_and_the_diff_shows_only_named_keys():
    client = ClusterConfigs({"cc.a": "1", "cc.b": "2", "other": "kept"})
    changed = _run(client, configs={"cc.a": 1, "cc.b": 3, "cc.c": "new"})
    assert client.bodies == [{"cc.b": "3", "cc.c": "new"}]
    assert changed["changes"] == ["cc.b", "cc.c (added)"]
    assert changed["before"] == {"cc.a": "1", "cc.b": "2"}
    assert changed["after"] == {"cc.a": "1", "cc.b": "3", "cc.c": "new"}
    assert client.configs["other"] == "kept"


def test_a_stored_string_that_differs_in_case_is_a_change():
    """Pinot compares nothing: 'TRUE' and true are two stored strings."""
    client = ClusterConfigs({"cc.flag": "TRUE"})
    assert _run(client, check_mode=True, configs={"cc.flag": True})["changes"] == ["cc.flag"]


def test_absent_deletes_only_the_named_keys_that_exist():
    client = ClusterConfigs({"cc.a": "1", "cc b": "2", "other": "kept"})
    predicted = _run(client, check_mode=True, state="absent", names=["cc.a", "cc b", "cc.missing"])
    assert (predicted["changed"], client.executed_requests) == (True, [])
    assert (predicted["before"], predicted["after"]) == ({"cc b": "2", "cc.a": "1"}, None)
    removed = _run(client, state="absent", names=["cc.a", "cc b", "cc.missing"])
    assert sorted(client.executed_requests) == ["DELETE /cluster/configs/cc%20b", "DELETE /cluster/configs/cc.a"]
    assert removed["changes"] == [". (deleted)"]
    assert "cc.a" not in client.configs and client.configs["other"] == "kept"
    gone = _run(client, state="absent", configs={"cc.a": "whatever"})  # the keys of configs do as well
    assert (gone["changed"], len(client.executed_requests)) == (False, 2)


def test_stored_form_is_what_pinot_stores_for_a_json_scalar():
    """Measured: Pinot stores a JSON number as Java's Double.toString / Long.toString writes it."""
    measured = [(0.5, "0.5"), (8.0, "8.0"), (1e7, "1.0E7"), (1e20, "1.0E20"), (100.0, "100.0"), (0.001, "0.001"),
                (1.5e-4, "1.5E-4"), (9999999.0, "9999999.0"), (12345000000.0, "1.2345E10"), (-0.0, "-0.0"),
                (0.30000000000000004, "0.30000000000000004"), (1.7976931348623157e308, "1.7976931348623157E308"),
                (True, "true"), (False, "false"), (8, "8"), (12345678901234567890, "12345678901234567890"),
                ("", ""), ("True", "True"), (-2.5, "-2.5")]
    assert [(value, cluster_config.stored_form(value)) for value, _stored in measured] == measured


@pytest.mark.parametrize(("params", "field", "fragment"), [
    ({"configs": {"cc.x": {"a": 1}}}, "configs.cc.x", "not a dict (Pinot would store an empty string)"),
    ({"configs": {"cc.x": [1, 2]}}, "configs.cc.x", "not a list"),
    ({"configs": {"cc.x": None}}, "configs.cc.x", "use state=absent"),
    ({"configs": {"cc.x": float("nan")}}, "configs.cc.x", "not a number Pinot can store"),
    ({"configs": {"": "v"}}, "configs", "not a cluster config name"),
    ({"configs": {"  ": "v"}}, "configs", "not a cluster config name"),
    ({"configs": {1: "v"}}, "configs", "not a cluster config name"),
    ({"configs": {"cc/x": "v"}}, "configs", "cannot be deleted through Pinot's API"),
    ({"configs": {"allowParticipantAutoJoin": False}}, "configs.allowParticipantAutoJoin", "only true is accepted"),
    ({"configs": {}}, "configs", "at least one"),
    ({"configs": {"cc.x": 1}, "names": ["cc.x"]}, "names", "is for state=absent"),
    ({"names": [], "state": "absent"}, "names", "at least one"),
    ({"names": ["cc.x", "cc.x"], "state": "absent"}, "names", "names a key twice"),
    ({"names": ["cc.x", ""], "state": "absent"}, "names[1]", "not a cluster config name"),
    ({"names": ["enable.case.insensitive"], "state": "absent"}, "names[0]", "set it to a value instead"),
    ({"configs": {"default.hyperloglog.log2m": 8}, "state": "absent"}, "configs", "set it to a value instead"),
])
def test_bad_input_names_the_field_before_any_request(params, field, fragment):
    client = ClusterConfigs()
    client.get = None  # no read either
    with pytest.raises(SpecError) as caught:
        cluster_config.build(client, dict({"configs": None, "names": None, "state": "present"}, **params), False)
    assert caught.value.field == field
    assert fragment in caught.value.message
    assert client.executed_requests == []


def test_pinot_keys_may_be_set():
    client = ClusterConfigs()
    result = _run(client, configs={"enable.case.insensitive": False})
    assert client.bodies == [{"enable.case.insensitive": "false"}] and result["changes"] == ["enable.case.insensitive"]
    # Auto-join may be described as it is (true): nothing to write.
    assert _run(client, configs={"allowParticipantAutoJoin": True})["changed"] is False
    assert len(client.bodies) == 1


def test_info_reads_every_config_or_the_named_ones():
    client = ClusterConfigs({"cc.a": "1"})
    assert cluster_config.read_info(client, {"names": None})["cluster_configs"] == dict(
        sorted(dict(PINOT_DEFAULTS, **{"cc.a": "1"}).items()))
    assert cluster_config.read_info(client, {"names": ["cc.a", "cc.missing"]}) == {"cluster_configs": {"cc.a": "1"}}
    with pytest.raises(SpecError) as caught:
        cluster_config.read_info(client, {"names": ["cc.a", ""]})
    assert caught.value.field == "names[1]"
