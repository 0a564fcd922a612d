"""cluster/shapes.py's TypedDicts describe what the code really builds: every declared key that is required is
there, and no key is left undeclared."""

import copy

import pytest
from cluster_fixtures import description
from test_rollout import FakeKube, FakePinot, run, zoned

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster import shapes
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.groups import group_status
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import render_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout import Rollout
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout_plan import group_steps, rollout_units
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster


def assert_shape(value, shape):
    keys = set(value)
    assert set(shape.__required_keys__) <= keys, f"{shape.__name__}: missing {set(shape.__required_keys__) - keys}"
    assert keys <= set(shape.__annotations__), f"{shape.__name__}: undeclared {keys - set(shape.__annotations__)}"


def descriptions():
    managed = description()
    managed["zookeeper"] = {"managed": {"replicas": 3}}
    stored = description()
    stored["deep_store"] = {"uri": "s3://segments/pinot", "region": "eu-west-1",
                            "credentials_secret": {"name": "s3"}}
    for group in stored["node_groups"]:
        group.pop("overrides", None)  # the deep store keeps the controller's segments: no storage needed
    return [description(), managed, stored]


@pytest.mark.parametrize("desc", descriptions(), ids=["shared", "managed-zookeeper", "deep-store"])
def test_the_normalised_cluster_and_its_node_groups(desc):
    cluster = normalise_cluster(desc)
    assert_shape(cluster, shapes.Cluster)
    for group in cluster["node_groups"]:
        assert_shape(group, shapes.NodeGroup)
        for item in group["secret_env"]:
            assert_shape(item, shapes.SecretEnv)
    assert any(group["secret_env"] for group in cluster["node_groups"])


def live_group(cluster, group):
    manifests = {f"{m['kind']}/{m['metadata']['name']}": m for _s, items in render_cluster(cluster) for m in items}
    sts = copy.deepcopy(manifests[f"StatefulSet/pinot-{group}"])
    sts["status"] = {"replicas": 2, "readyReplicas": 2, "currentRevision": "old", "updateRevision": "new"}
    pods = [{"metadata": {"name": f"pinot-{group}-{i}", "labels": {"controller-revision-hash": "old"},
                          "ownerReferences": [{"kind": "StatefulSet", "name": f"pinot-{group}"}]},
             "spec": {"nodeName": "n1", "containers": [{"image": "apachepinot/pinot:1.4.0"}]},
             "status": {"phase": "Running"}} for i in (1, 0)]
    return group_status(sts, pods, {"n1": "zone-a"})


def test_a_group_status():
    status = live_group(normalise_cluster(description()), "server-hot-a")
    assert_shape(status, shapes.GroupStatus)
    assert len(status["pods"]) == 2
    for pod in status["pods"]:
        assert_shape(pod, shapes.PodStatus)


def test_the_plan_steps_and_their_targets():
    cluster = normalise_cluster(description())
    group = next(g for g in cluster["node_groups"] if g["name"] == "server-hot-a")
    status = live_group(cluster, "server-hot-a")
    steps = group_steps(status, cluster["name"], group, 1,
                        {"pinot-server-hot-a-0": {"instance": "Server_x_8098", "health_url": "http://x:8097"}})
    assert len(steps) == 2
    for step in steps:
        assert_shape(step, shapes.PlanStep)
        for target in step["targets"]:
            assert_shape(target, shapes.StepTarget)
    assert "health_url" in steps[-1]["targets"][0]
    rollout = Rollout(None, None, cluster, {})
    for step in rollout.plan_steps(group, status):
        assert set(step) == set(shapes.RolloutStep.__annotations__)
    units, _alone = rollout_units(cluster["node_groups"], "zone")
    for unit in units:
        assert_shape(unit, shapes.RolloutUnit)


def test_the_steps_a_rollout_runs(monkeypatch):
    ran = []
    monkeypatch.setattr(Rollout, "pause_after", lambda self, step: ran.append(dict(step)))
    desc = zoned()
    run(FakeKube(desc), FakePinot(), desc, server_steps="zone")
    zone_steps = [step for step in ran if "zone" in step]
    assert zone_steps and len(zone_steps) < len(ran)
    for step in ran:
        if "zone" in step:
            assert set(step) == set(shapes.ZoneStep.__annotations__)
        else:
            assert set(step) == set(shapes.RolloutStep.__annotations__)
