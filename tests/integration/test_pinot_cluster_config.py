"""pinot_cluster_config and pinot_cluster_config_info against the real controller of each tested version.

The cluster config is one map shared by every helper and test using the same test bed: the tests only create keys
of their own (`cc<random>.*`) and delete them afterwards, and check that Pinot's own keys and any other key are left
exactly as they were. The modules' examples run as written (their two server throttle keys are restored to what
they were before, so the test leaves the cluster as it found it).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.cluster_config import PINOT_KEYS
from tests.support.examples import Runner, assert_ok, examples, modules_run_by
from tests.support.modules import run_module

pytestmark = pytest.mark.integration


def live(pinot) -> dict:
    response = requests.get(f"{pinot.controller_url}/cluster/configs", timeout=10)
    response.raise_for_status()
    return response.json()


def delete(pinot, *names):
    for name in names:
        requests.delete(f"{pinot.controller_url}/cluster/configs/{name}", timeout=10)


@pytest.fixture
def prefix(pinot):
    """A prefix of this test's own; every key under it is deleted afterwards."""
    mine = "cc" + secrets.token_hex(3) + "."
    yield mine
    delete(pinot, *(name for name in live(pinot) if name.startswith(mine)))


def config_module(pinot, check=False, **args):
    return run_module("pinot_cluster_config", dict(controller_url=pinot.controller_url, **args), check=check,
                      diff=True)


def pinots_own(configs: dict) -> dict:
    """The keys Pinot writes into every cluster's config (other tests may change other keys meanwhile)."""
    return {name: configs.get(name) for name in PINOT_KEYS}


@pytest.mark.every_version
def test_set_compare_and_delete_only_the_named_keys(pinot, prefix):
    a, b, c = prefix + "parallelism", prefix + "enabled", prefix + "ratio"
    untouched = {prefix + "someone.else": "kept"}
    requests.post(f"{pinot.controller_url}/cluster/configs", json=untouched, timeout=10).raise_for_status()
    before_pinots = pinots_own(live(pinot))
    assert None not in before_pinots.values(), before_pinots

    predicted = config_module(pinot, check=True, configs={a: 4, b: True, c: 0.5})
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["diff"] == {"before": {}, "after": {a: "4", b: "true", c: "0.5"}}
    assert a not in live(pinot)

    created = config_module(pinot, configs={a: 4, b: True, c: 0.5})
    assert created["executed_requests"] == ["POST /cluster/configs"]
    assert created["changes"] == [f"{b} (added)", f"{a} (added)", f"{c} (added)"]
    assert not created.get("warnings"), created["warnings"]
    stored = live(pinot)
    assert {name: stored[name] for name in (a, b, c)} == {a: "4", b: "true", c: "0.5"}
    assert created["cluster_configs"] == {a: "4", b: "true", c: "0.5"}
    again = config_module(pinot, configs={a: "4", b: "true", c: 0.5})  # the stored strings are the same request
    assert (again["changed"], again["executed_requests"]) == (False, [])

    # One value changes, one key is new: one POST with those two only; the diff holds the named keys only.
    changed = config_module(pinot, configs={a: 8, b: True, prefix + "new": 1e7})
    assert changed["changes"] == [prefix + "new (added)", a]
    assert changed["diff"] == {"before": {a: "4", b: "true"}, "after": {a: "8", b: "true", prefix + "new": "1.0E7"}}
    assert live(pinot)[prefix + "new"] == "1.0E7" and live(pinot)[c] == "0.5"

    info = run_module("pinot_cluster_config_info", {"controller_url": pinot.controller_url,
                                                    "names": [a, prefix + "never.set"]})
    assert (info["changed"], info["cluster_configs"]) == (False, {a: "8"})
    every = run_module("pinot_cluster_config_info", {"controller_url": pinot.controller_url})["cluster_configs"]
    assert every[a] == "8" and every["enable.case.insensitive"] == live(pinot)["enable.case.insensitive"]

    # Absent: only the named keys that exist are deleted, one DELETE each.
    predicted_removal = config_module(pinot, check=True, names=[a, b, prefix + "never.set"], state="absent")
    assert (predicted_removal["changed"], predicted_removal["executed_requests"]) == (True, [])
    assert predicted_removal["diff"] == {"before": {a: "8", b: "true"}, "after": {}}
    removed = config_module(pinot, names=[a, b, prefix + "never.set"], state="absent")
    assert removed["changes"] == [". (deleted)"] and removed["cluster_configs"] is None
    assert sorted(removed["executed_requests"]) == sorted(f"DELETE /cluster/configs/{name}" for name in (a, b))
    assert a not in live(pinot) and b not in live(pinot) and c in live(pinot)
    gone = config_module(pinot, names=[a, b], state="absent")
    assert (gone["changed"], gone["executed_requests"]) == (False, [])

    assert pinots_own(live(pinot)) == before_pinots
    assert live(pinot)[prefix + "someone.else"] == "kept"


@pytest.mark.every_version
@pytest.mark.parametrize(("args", "field"), [
    ({"configs": {"NAME.nested": {"a": 1}}}, "configs.NAME.nested"),
    ({"configs": {"NAME.list": [1, 2]}}, "configs.NAME.list"),
    ({"configs": {"NAME.ok": 1, "NAME/slash": "x"}}, "configs"),
    ({"configs": {"allowParticipantAutoJoin": "false"}}, "configs.allowParticipantAutoJoin"),
    ({"names": ["enable.case.insensitive"], "state": "absent"}, "names[0]"),
])
def test_bad_input_names_the_field_and_writes_nothing(pinot, prefix, args, field):
    field = field.replace("NAME", prefix.rstrip("."))
    args = {key: ({name.replace("NAME", prefix.rstrip(".")): value for name, value in value.items()}
                  if isinstance(value, dict) else value) for key, value in args.items()}
    before = pinots_own(live(pinot))
    result = config_module(pinot, **args)
    assert result["failed"] is True
    assert result["field"] == field, result["msg"]
    assert result["executed_requests"] == []
    after = live(pinot)
    assert pinots_own(after) == before and not [name for name in after if name.startswith(prefix)]


EXAMPLE_KEYS = ("pinot.server.max.segment.preprocess.parallelism",
                "pinot.server.max.segment.startree.preprocess.parallelism")


@pytest.mark.every_version
def test_examples_run_as_written(pinot, tmp_path):
    url = pinot.controller_url
    runner = Runner(tmp_path, url)
    kept = {name: value for name, value in live(pinot).items() if name in EXAMPLE_KEYS}
    before_pinots = pinots_own(live(pinot))
    set_title, remove_title = list(examples("pinot_cluster_config", url))
    try:
        delete(pinot, *EXAMPLE_KEYS)
        throttled = runner.run("pinot_cluster_config", set_title)
        assert_ok(throttled, changed=True)
        assert {name: live(pinot)[name] for name in EXAMPLE_KEYS} == dict(zip(EXAMPLE_KEYS, ("4", "2"), strict=True))
        assert_ok(runner.run("pinot_cluster_config", set_title), changed=False)
        for title in examples("pinot_cluster_config_info", url):
            info = runner.run("pinot_cluster_config_info", title)
            assert_ok(info, changed=False)
            assert info["cluster_configs"]["enable.case.insensitive"] == before_pinots["enable.case.insensitive"]
        removed = runner.run("pinot_cluster_config", remove_title)
        assert_ok(removed, changed=True)
        assert sorted(removed["executed_requests"]) == [f"DELETE /cluster/configs/{name}" for name in EXAMPLE_KEYS]
        assert not set(EXAMPLE_KEYS) & set(live(pinot))
        assert_ok(runner.run("pinot_cluster_config", remove_title), changed=False)
    finally:
        delete(pinot, *EXAMPLE_KEYS)
        if kept:
            requests.post(f"{url}/cluster/configs", json=kept, timeout=10).raise_for_status()
    assert pinots_own(live(pinot)) == before_pinots
    expected = {(module, title) for module in modules_run_by(Path(__file__).name) for title in examples(module, url)}
    assert runner.ran == expected
