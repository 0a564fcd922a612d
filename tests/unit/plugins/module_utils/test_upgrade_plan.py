"""The upgrade role's decisions: which instance each pod is, and whether a role order keeps Pinot's version order."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.upgrade_plan import step_targets, version_order_problems

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
