"""The upgrade role's decisions: which instance each pod is, and whether a role order keeps Pinot's version order."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout_plan import (
    group_steps,
    rollout_units,
    step_targets,
    version_order_problems,
)

ORDER = ["controller", "broker", "server", "minion"]


def cluster(image="apachepinot/pinot:1.5.1", **images):
    groups = [("controller", "controller"), ("broker-a", "broker"), ("server-a", "server"), ("server-b", "server"),
              ("minion", "minion")]
    return {"image": image, "node_groups": [dict({"name": n, "role": r}, **({"image": images[n.replace("-", "_")]}
                                                                            if n.replace("-", "_") in images else {}))
                                            for n, r in groups]}


def live(version="1.4.0", **versions):
    names = ("controller", "broker-a", "server-a", "server-b", "minion")
    return {n: {"image": f"apachepinot/pinot:{versions.get(n.replace('-', '_'), version)}"} for n in names}


def test_the_documented_order_upgrades_and_its_reverse_rolls_back():
    assert version_order_problems(cluster(), live(), ORDER) == []
    assert version_order_problems(cluster("apachepinot/pinot:1.4.0"), live("1.5.1"), ORDER[::-1]) == []


def test_an_order_that_puts_brokers_above_controllers_is_refused_naming_both_groups():
    [problem] = version_order_problems(cluster(), live(), ["broker", "controller", "server", "minion"])
    assert problem == ("upgrading in the order broker, controller, server, minion would leave broker group broker-a "
                       "(1.5.1) newer than controller group controller (1.4.0) after the broker groups; Pinot "
                       "requires controllers >= brokers >= servers, minions")


def test_a_rollback_in_the_upgrade_order_is_refused():
    [problem] = version_order_problems(cluster("apachepinot/pinot:1.4.0"), live("1.5.1"), ORDER)
    assert "broker group broker-a (1.5.1) newer than controller group controller (1.4.0) after the controller" \
        in problem


def test_a_cluster_already_out_of_order_is_refused_as_it_is():
    [problem] = version_order_problems(cluster(), live(minion="1.5.1"), ["controller"])
    assert problem.startswith("the cluster already runs minion group minion (1.5.1) newer than broker group "
                              "broker-a (1.4.0)")


def test_a_group_image_and_roles_left_out_of_the_order_are_taken_as_they_are():
    # Only the servers move, to the version the brokers already run: fine. Beyond it: refused.
    assert version_order_problems(cluster("apachepinot/pinot:1.4.0", server_a="apachepinot/pinot:1.4.0"),
                                  live(), ["server"]) == []
    [problem] = version_order_problems(cluster("apachepinot/pinot:1.4.0", server_b="apachepinot/pinot:1.5.1"),
                                       live(), ["server"])
    assert "server group server-b (1.5.1) newer than broker group broker-a (1.4.0)" in problem


def test_tags_that_are_not_versions_are_not_judged():
    assert version_order_problems(cluster("apachepinot/pinot:latest"), live(), ["broker"]) == []
    assert version_order_problems(cluster("registry.local:5000/pinot@sha256:abc"), live(), ["broker"]) == []


def test_step_targets_take_the_reported_instance_unless_the_map_names_one():
    instances = {"p-0": "Server_p-0_8098", "p-1": "Server_p-1_8098"}
    assert step_targets(["p-1", "p-0"], instances, {}, "g", "server") == [
        {"pod": "p-1", "instance": "Server_p-1_8098"}, {"pod": "p-0", "instance": "Server_p-0_8098"}]
    by_group = {"g": {"instance": "Server_real_8098", "health_url": "http://127.0.0.1:8097"}}
    assert step_targets(["p-0"], instances, by_group, "g", "server") == [
        {"pod": "p-0", "instance": "Server_real_8098", "health_url": "http://127.0.0.1:8097"}]
    by_pod = dict(by_group, **{"p-0": {"instance": "Server_other_8098"}})
    assert step_targets(["p-0"], instances, by_pod, "g", "server")[0]["instance"] == "Server_other_8098"
    with pytest.raises(ValueError, match="no Pinot instance known for pod p-2 "):
        step_targets(["p-2"], instances, {}, "g", "server")


G = {"name": "g", "role": "server"}


def held(replicas, revisions):
    """pinot_cluster's report of group `g` of cluster `p` with the new template (revision `new`) held."""
    return {"replicas": replicas, "update_revision": "new",
            "pods": [{"name": name, "revision": rev, "instance": f"Server_{name}_8098"}
                     for name, rev in revisions.items()]}


def test_group_steps_go_from_the_highest_ordinal_and_the_last_releases_the_partition():
    steps = group_steps(held(3, {"p-g-0": "old", "p-g-1": "old", "p-g-2": "old"}), "p", G, 1, {})
    assert [(s["label"], s["pods"], s["ordinal"], s["partitions"]) for s in steps] == [
        ("g 1/3", ["p-g-2"], 2, {"g": 2}), ("g 2/3", ["p-g-1"], 1, {"g": 1}), ("g 3/3", ["p-g-0"], 0, {})]
    assert all(s["todo"] for s in steps)
    assert steps[0]["targets"] == [{"pod": "p-g-2", "instance": "Server_p-g-2_8098"}]
    assert steps[0]["restart"] == ["Server_p-g-2_8098"]


def test_group_steps_in_batches_know_what_a_resumed_run_has_left():
    # A rerun after p-g-2 was updated: its batch has p-g-1 to do, and only p-g-1 goes down; p-g-0 is mapped.
    status = held(3, {"p-g-0": "old", "p-g-1": "old", "p-g-2": "new"})
    steps = group_steps(status, "p", G, 2, {"p-g-0": {"instance": "Server_x_8098", "health_url": "u"}})
    assert [(s["label"], s["pods"], s["todo"], s["restart"], s["partitions"]) for s in steps] == [
        ("g 1/2", ["p-g-2", "p-g-1"], True, ["Server_p-g-1_8098"], {"g": 1}),
        ("g 2/2", ["p-g-0"], True, ["Server_x_8098"], {})]
    assert steps[1]["targets"] == [{"pod": "p-g-0", "instance": "Server_x_8098", "health_url": "u"}]
    done = group_steps(held(2, {"p-g-0": "new", "p-g-1": "new"}), "p", G, 1, {})
    assert [(s["todo"], s["restart"]) for s in done] == [(False, []), (False, [])]


def test_group_steps_refuse_a_batch_below_one_and_an_unknown_pod():
    with pytest.raises(ValueError, match="batch size of node group g must be at least 1, got 0"):
        group_steps(held(1, {"p-g-0": "old"}), "p", G, 0, {})
    with pytest.raises(ValueError, match="no Pinot instance known for pod p-g-1 "):
        group_steps(held(2, {"p-g-0": "old"}), "p", G, 1, {})
    assert group_steps(held(0, {}), "p", G, 1, {}) == []


def zoned(*groups):
    return [{"name": name, "role": role, "zones": zones} for name, role, zones in groups]


ZONED = zoned(("controller", "controller", ["a", "b"]), ("broker-a", "broker", ["a"]),
              ("hot-b", "server", ["b"]), ("hot-a", "server", ["a"]), ("anywhere", "server", []),
              ("cold-a", "server", ["a"]), ("spread", "server", ["a", "b"]), ("cold-c", "server", ["c"]),
              ("minion", "minion", ["c"]))


def shape(units):
    return [(unit["zone"], [g["name"] for g in unit["groups"]]) for unit in units]


def test_zone_units_gather_the_servers_of_each_zone_where_the_zone_first_appears():
    units, alone = rollout_units(ZONED, "zone")
    # Every server group whose only zone is a goes with hot-a (zone a appears after b); brokers and minions in a
    # zone, and servers in no zone or several, stay alone.
    assert shape(units) == [(None, ["controller"]), (None, ["broker-a"]), ("b", ["hot-b"]),
                            ("a", ["hot-a", "cold-a"]), (None, ["anywhere"]), (None, ["spread"]),
                            ("c", ["cold-c"]), (None, ["minion"])]
    assert alone == ["anywhere", "spread"]


def test_serial_units_are_every_group_alone_in_order():
    for steps in ("serial", None):
        units, alone = rollout_units(ZONED, *([steps] if steps else []))
        assert shape(units) == [(None, [g["name"]]) for g in ZONED] and alone == []
