"""Every EXAMPLES task of pinot_cluster, pinot_cluster_info, pinot_cluster_event, pinot_cluster_rollout and
pinot_health runs, in a playbook, on the test bed.

The Kubernetes examples run exactly as written against the real control plane: HOME points at a directory whose
`.kube/config` is the test bed's kubeconfig, so `kubeconfig: ~/.kube/config` (and the default the examples without
it fall back to) reach the test bed. What the examples assume exists is created first, as an operator would: the
namespace `analytics`, the Secrets `pinot-auth` (key `password`) and `pinot-s3` (the deep store's key pair) and a
StorageClass `fast`. The canary example refers to `{{ pinot_cluster }}`: the play defines it as the first
example's cluster with the image 1.5.1.

pinot_health's and pinot_cluster_rollout's examples get the test bed's controller URL. The gates name instances the
kwok pods never register: the server gate and the upgrade run as written with no time to wait (the clean failure
they must give), then with the test bed's real instances in their place (they must pass).
"""

from __future__ import annotations

import ast
import copy
import secrets
from pathlib import Path

import pytest

from tests.support.examples import (
    CLUSTER_MODULES,
    INSTANCE_MODULES,
    LOGICAL_TABLE_MODULES,
    REPO,
    RESOURCE_MODULES,
    Runner,
    assert_ok,
    examples,
)

pytestmark = pytest.mark.integration

NAMESPACE = "analytics"
NEW_IMAGE = "apachepinot/pinot:1.5.1"
CANARY_IMAGE = "apachepinot/pinot:1.5.2"


def test_every_module_has_its_examples_run():
    """The example suites together cover every module of the collection."""
    modules = {path.stem for path in (REPO / "plugins" / "modules").glob("*.py") if path.stem != "__init__"}
    assert modules == set(RESOURCE_MODULES) | set(CLUSTER_MODULES) | set(INSTANCE_MODULES) | set(LOGICAL_TABLE_MODULES)
    for module in modules:  # and every module has examples to run
        assert any(isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXAMPLES"
                   for node in ast.parse((REPO / "plugins" / "modules" / f"{module}.py").read_text()).body), module


@pytest.fixture
def analytics(k8s_control_plane):
    """The namespace, Secret and StorageClass the examples assume; removed afterwards."""
    cp = k8s_control_plane
    for path in (f"/api/v1/namespaces/{NAMESPACE}", "/apis/storage.k8s.io/v1/storageclasses/fast"):
        if cp.get_or_none(path) is not None:  # left by an interrupted run on a reused test bed
            cp.request("DELETE", path)
            cp.wait_gone(path)
    standard = cp.request("GET", "/apis/storage.k8s.io/v1/storageclasses/standard")
    cp.request("POST", "/apis/storage.k8s.io/v1/storageclasses", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
        "provisioner": standard["provisioner"], "volumeBindingMode": standard["volumeBindingMode"]})
    cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    cp.request("POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pinot-auth"},
        "stringData": {"password": secrets.token_hex(8)}})
    cp.request("POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pinot-s3"},
        "stringData": {"AWS_ACCESS_KEY_ID": secrets.token_hex(8), "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16)}})
    yield cp
    cp.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
    cp.request("DELETE", "/apis/storage.k8s.io/v1/storageclasses/fast")
    cp.wait_gone(f"/api/v1/namespaces/{NAMESPACE}")  # its pods' capacity is free for the next tests


@pytest.fixture
def home(k8s_control_plane, tmp_path: Path) -> Path:
    kube = tmp_path / "home" / ".kube"
    kube.mkdir(parents=True)
    (kube / "config").write_text(Path(k8s_control_plane.kubeconfig).read_text())
    return tmp_path / "home"


def pod_images(cp, group: str) -> dict[str, str]:
    pods = cp.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=pinotops.io/node-group%3D{group}")
    return {pod["metadata"]["name"]: pod["spec"]["containers"][0]["image"] for pod in pods["items"]}


def test_cluster_examples_run_as_written(analytics, home: Path, tmp_path: Path, pinot):
    cp = analytics
    runner = Runner(tmp_path, home=home)
    cluster_examples = examples("pinot_cluster")
    first = "A three-zone Pinot cluster with hot and cold servers"
    canary = "Roll the new image to the upper half of server-hot-a only (canary)"
    remove = "Remove the cluster, keeping its volumes"

    installed = runner.run("pinot_cluster", first)
    assert_ok(installed, changed=True)
    groups = installed["groups"]
    assert sorted(groups) == ["broker-a", "broker-b", "controller", "minion", "server-cold-c", "server-hot-a",
                              "server-hot-b"]
    assert all(group["rollout_complete"] for group in groups.values()), groups
    for pod in groups["server-hot-a"]["pods"]:
        assert pod["zone"] == "zone-a" and pod["ready"], pod
    assert {pod["zone"] for pod in groups["controller"]["pods"]} == {"zone-a", "zone-b", "zone-c"}
    claims = cp.request("GET", f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")["items"]
    hot = [c for c in claims if "server-hot-a" in c["metadata"]["name"]]
    assert [c["spec"]["storageClassName"] for c in hot] == ["fast", "fast"], hot
    cold = [c for c in claims if "server-cold-c" in c["metadata"]["name"]]
    assert [c["spec"]["resources"]["requests"]["storage"] for c in cold] == ["1Ti", "1Ti"], cold

    waited = runner.run("pinot_cluster_info", "Wait until every node group has finished rolling out")
    assert_ok(waited, changed=False)
    assert waited["all_rollouts_complete"] and waited["exists"]

    description = copy.deepcopy(cluster_examples[first]["pinotops.k8s.pinot_cluster"]["cluster"])
    description["image"] = NEW_IMAGE
    rollout_runner = Runner(tmp_path, pinot.controller_url, home=home)
    run_rollout_examples(rollout_runner, cp, pinot, description)

    canary_description = dict(description, image=CANARY_IMAGE)
    rolled = runner.run("pinot_cluster", canary, play_vars={"pinot_cluster": canary_description})
    assert_ok(rolled, changed=True)
    assert "StatefulSet/pinot-server-hot-a spec.template.spec.containers.pinot.image" in rolled["changes"]
    touched = {change.split()[0].split("/")[1] for change in rolled["changes"]}
    assert all(name.startswith("pinot-server-hot-a") for name in touched), rolled["changes"]
    assert pod_images(cp, "server-hot-a") == {"pinot-server-hot-a-0": NEW_IMAGE,
                                              "pinot-server-hot-a-1": CANARY_IMAGE}
    assert set(pod_images(cp, "server-hot-b").values()) == {NEW_IMAGE}

    hot_a = runner.run("pinot_cluster_info", "Pods of one group and their revisions")
    assert_ok(hot_a, changed=False)
    assert list(hot_a["groups"]) == ["server-hot-a"]
    status = hot_a["groups"]["server-hot-a"]
    assert status["partition"] == 1 and status["updated"] == 1, status
    revisions = {pod["name"]: pod["revision"] for pod in status["pods"]}
    assert revisions["pinot-server-hot-a-1"] == status["update_revision"] != revisions["pinot-server-hot-a-0"]

    recorded = runner.run("pinot_cluster_event", "Say on the pod why the upgrade stopped there")
    assert_ok(recorded, changed=True)
    pod = cp.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/pinot-server-hot-a-1")
    stopped = [e for e in cp.request("GET", f"/api/v1/namespaces/{NAMESPACE}/events")["items"]
               if e["reason"] == "UpgradeStopped" and e["involvedObject"]["name"] == "pinot-server-hot-a-1"]
    assert [(e["involvedObject"]["uid"], e["type"], e["source"]["component"]) for e in stopped] == [
        (pod["metadata"]["uid"], "Warning", "pinotops.k8s")], stopped
    assert stopped[0]["message"] == recorded["events"][0]["message"]

    removed = runner.run("pinot_cluster", remove)
    assert_ok(removed, changed=True)
    for name in groups:
        cp.wait_gone(f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets/pinot-{name}")
    kept = cp.request("GET", f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")["items"]
    assert sorted(c["metadata"]["name"] for c in kept) == sorted(c["metadata"]["name"] for c in claims)

    assert runner.ran | rollout_runner.ran == {(m, n) for m in ("pinot_cluster", "pinot_cluster_info",
                                                                "pinot_cluster_event", "pinot_cluster_rollout")
                                               for n in examples(m)}


def run_rollout_examples(runner: Runner, cp, pinot, description: dict) -> None:
    """The plan, the upgrade stopped by its first gate as written, completed with the bed's instances, then the
    brokers-only and the zone-at-a-time examples with nothing left to do."""
    pinot_vars = {"pinot_cluster": description}
    plan_name = "What would the upgrade restart?"
    upgrade_name = "Upgrade to the description, pod by pod, gated on Pinot"
    plan = runner.run("pinot_cluster_rollout", plan_name, play_vars=pinot_vars)
    assert_ok(plan, changed=True)
    assert plan["executed_requests"] == [] and plan["progress"][0].startswith("pre-flight passed: 7 node groups")
    would = "server-hot-a: would restart pinot-server-hot-a-1, pinot-server-hot-a-0; changes "
    assert any(line.startswith(would) for line in plan["progress"]), plan["progress"]
    assert set(pod_images(cp, "controller").values()) == {"apachepinot/pinot:1.4.0"}

    as_written = copy.deepcopy(examples("pinot_cluster_rollout", pinot.controller_url)[upgrade_name])
    as_written["pinotops.k8s.pinot_cluster_rollout"]["gate_timeouts"]["controller"] = 0
    stopped = runner.run("pinot_cluster_rollout", upgrade_name, as_written, play_vars=pinot_vars)
    assert stopped["failed"] and stopped["stopped"]["gate"] == "controller live", stopped["msg"]
    assert stopped["msg"].startswith("Upgrade stopped at node group controller, step controller 1/3, pod(s) "
                                     "pinot-controller-2, gate 'controller live'"), stopped["msg"]
    assert pod_images(cp, "controller")["pinot-controller-2"] == NEW_IMAGE
    (event,) = [e for e in cp.request("GET", f"/api/v1/namespaces/{NAMESPACE}/events")["items"]
                if e["reason"] == "UpgradeStopped"]
    assert event["involvedObject"]["name"] == "pinot-controller-2" and event["type"] == "Warning"
    assert event["message"].startswith("Upgrade stopped by gate 'controller live': "), event["message"]

    mapped = copy.deepcopy(examples("pinot_cluster_rollout", pinot.controller_url)[upgrade_name])
    instances = {role: next(i for i in pinot.instances if i.startswith(role.capitalize() + "_"))
                 for role in ("controller", "broker", "server", "minion")}
    mapped["pinotops.k8s.pinot_cluster_rollout"].update(
        instance_map={role: {"instance": instance} for role, instance in instances.items()},
        accept_unavailable=["controller", "broker", "server"], restart_check_timeout=0)
    upgraded = runner.run("pinot_cluster_rollout", upgrade_name, mapped, play_vars=pinot_vars)
    assert_ok(upgraded, changed=True)
    assert {image for group in description["node_groups"] for image in pod_images(cp, group["name"]).values()} == \
        {NEW_IMAGE}
    restarted = [pod for step in upgraded["steps"] for pod in step["restarted"]]
    assert "pinot-controller-2" not in restarted  # restarted by the stopped run already
    assert restarted[:2] == ["pinot-controller-1", "pinot-controller-0"] and restarted[-1] == "pinot-minion-0"

    brokers = runner.run("pinot_cluster_rollout", "Brokers only, two pods per step, without the pre-flight",
                         play_vars=pinot_vars)
    assert_ok(brokers, changed=False)
    assert brokers["executed_requests"] == [] and len(brokers["progress"]) == 2

    # Every server is at the new revision already: the zone steps find nothing to restart or delete.
    zones = runner.run("pinot_cluster_rollout", "Upgrade with the servers a zone at a time (needs delete on pods)",
                       play_vars=pinot_vars)
    assert_ok(zones, changed=False)
    assert zones["executed_requests"] == [] and zones["steps"] == []
    assert any("server-hot-a: every pod at revision" in line for line in zones["progress"]), zones["progress"]


@pytest.mark.every_version
def test_health_examples(pinot, tmp_path: Path):
    runner = Runner(tmp_path, pinot.controller_url)
    gate_name = "Gate a restarted server"

    preflight = runner.run("pinot_health", "Pre-flight, every table converged and nothing in ERROR")
    assert_ok(preflight, changed=False)
    assert preflight["healthy"] and preflight["attempts"] == 1
    assert [check["check"] for check in preflight["checks"]] == ["controller_health", "segments"]

    as_written = copy.deepcopy(examples("pinot_health", pinot.controller_url)[gate_name])
    as_written["pinotops.k8s.pinot_health"]["wait_timeout"] = 0
    refused = runner.run("pinot_health", gate_name, as_written)
    assert refused["failed"] and not refused["healthy"]
    assert refused["failed_check"] == "live"
    assert "server-hot-a 1/2" in refused["msg"] and "is not live in Helix" in refused["msg"], refused["msg"]

    mapped = copy.deepcopy(examples("pinot_health", pinot.controller_url)[gate_name])
    args = mapped["pinotops.k8s.pinot_health"]
    args["instance"] = next(name for name in pinot.instances if name.startswith("Server_"))
    args["health_url"] = pinot.server_admin_urls[0]
    gated = runner.run("pinot_health", gate_name, mapped)
    assert_ok(gated, changed=False)
    assert gated["healthy"] and [check["check"] for check in gated["checks"]] == ["live", "health", "segments"]

    # Nothing is served by instances that are not there: they may go down.
    restart = runner.run("pinot_health", "Can two servers restart together without a segment losing its last serving "
                                         "replica?")
    assert_ok(restart, changed=False)
    assert restart["healthy"] and [check["check"] for check in restart["checks"]] == ["restart_safe"]

    assert runner.ran == {("pinot_health", name) for name in examples("pinot_health")}
