"""Reliability and security of pinot_cluster against the REAL Kubernetes control plane of the test bed (issue 7).

Real etcd, kube-apiserver (token auth, RBAC on), controller-manager and scheduler; kwok plays the kubelets.
Faults are real: another field manager writes the same StatefulSet through the apiserver, the kube-apiserver
process is stopped and started again, a pod is held un-Ready by the test bed's annotation, and the RBAC test
runs the module with a ServiceAccount token issued by the TokenRequest API.

The upgrade faults are tested here at the pinot_cluster level (the rollout wait with partitions the role drives)
and again through roles/pinot_upgrade in test_roles.py; see docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.pinotops.k8s.plugins.module_utils.kube import client as k8s_client
from tests.support.modules import run_module
from tests.testbed import plays
from tests.testbed.k8s import ANN_HOLD_READY, ANN_READY_DELAY, ControlPlaneError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
RBAC_FILE = REPO / "extensions" / "rbac" / "pinotops-operator.yml"
STS = "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}"


def description(namespace, name="pinot"):
    return {
        "name": name, "namespace": namespace, "image": "apachepinot/pinot:1.4.0",
        "zookeeper": {"address": "zk.example:2181/pinot"},
        "profiles": {"quick": {"pod_annotations": {ANN_READY_DELAY: "1s"}}},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 1, "profile": "quick",
             "overrides": {"storage": {"size": "1Gi"}}},
            {"name": "broker", "role": "broker", "replicas": 1, "profile": "quick"},
            {"name": "server", "role": "server", "replicas": 2, "profile": "quick"},
            {"name": "minion", "role": "minion", "replicas": 1, "profile": "quick"},
        ],
    }


class Env:
    def __init__(self, cp, namespace, workdir):
        self.cp, self.namespace, self.workdir = cp, namespace, workdir
        self.runs = 0

    def get(self, path):
        return self.cp.get_or_none(path)

    def sts(self, name):
        return self.get(STS.format(ns=self.namespace, name=name))

    def module(self, cluster, check=False, diff=True, **args):
        return run_module("pinot_cluster", dict(dict(kubeconfig=str(self.cp.kubeconfig), cluster=cluster), **args),
                          check=check, diff=diff)

    def apply_as(self, manager, path, manifest, force=True):
        return self.cp.request("PATCH", f"{path}?fieldManager={manager}&force={str(force).lower()}", manifest,
                               content_type="application/apply-patch+yaml")

    def playbook(self, cluster, **args):
        """ansible-playbook with one pinot_cluster task, started in the background: (Popen, result file)."""
        self.runs += 1
        result = self.workdir / f"result-{self.runs}.json"
        task = dict(dict(kubeconfig=str(self.cp.kubeconfig), cluster=cluster), **args)
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "under test", "pinotops.k8s.pinot_cluster": task, "register": "r", "ignore_errors": True},
            {"ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(result)}}]}]
        path = self.workdir / f"play-{self.runs}.yml"
        path.write_text(yaml.safe_dump(play))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_NOCOLOR="1")
        proc = subprocess.Popen([ANSIBLE_PLAYBOOK, str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, start_new_session=True)
        return proc, result


@pytest.fixture(scope="module")
def env(k8s_control_plane, tmp_path_factory):
    cp = k8s_control_plane
    namespace = "rel-" + secrets.token_hex(3)
    cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    yield Env(cp, namespace, tmp_path_factory.mktemp("reliability_k8s"))
    cp.request("DELETE", f"/api/v1/namespaces/{namespace}")


def wait_until(what, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- another writer ----------------------------------------------------------------------------------------

def test_drift_by_another_field_manager_is_reported_and_its_own_fields_are_kept(env):
    cluster = description(env.namespace)
    first = env.module(cluster)
    assert not first.get("failed"), first.get("msg")
    path = STS.format(ns=env.namespace, name="pinot-server")
    # Another tool (think `kubectl scale` or an HPA-like controller) takes spec.replicas and adds its own label.
    env.apply_as("other-tool", path, {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                      "metadata": {"name": "pinot-server", "namespace": env.namespace,
                                                   "annotations": {"other-tool/owner": "team-x"}},
                                      "spec": {"replicas": 5}})
    predicted = env.module(cluster, check=True)
    assert predicted["changed"] is True
    assert "StatefulSet/pinot-server spec.replicas" in predicted["changes"]
    again = env.module(cluster)
    # Reported (changes and --diff name the field), then corrected to the description; never silent.
    assert again["changed"] is True and "StatefulSet/pinot-server spec.replicas" in again["changes"]
    live = env.sts("pinot-server")
    assert live["spec"]["replicas"] == 2
    assert live["metadata"]["annotations"]["other-tool/owner"] == "team-x"  # the other manager's own field stays
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert {"pinotops.k8s", "other-tool"} <= managers
    assert env.module(cluster)["changed"] is False


def test_change_by_another_writer_between_read_and_write_is_not_clobbered(env, monkeypatch):
    cluster = description(env.namespace)
    assert not env.module(cluster).get("failed")
    path = STS.format(ns=env.namespace, name="pinot-server")
    changed = copy.deepcopy(cluster)
    changed["node_groups"][2]["pinot"] = {"jvm_opts": "-Xmx2g"}  # pinotops has a real change to make
    original_apply = k8s_client.K8sClient.apply
    raced = []

    def apply_with_race(self, manifest, dry_run=False):
        if not dry_run and manifest["metadata"]["name"] == "pinot-server" and not raced:
            # Between pinotops' read/dry run and its write, another writer scales the StatefulSet.
            raced.append(env.apply_as("other-tool", path, {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                           "metadata": {"name": "pinot-server",
                                                                        "namespace": env.namespace},
                                                           "spec": {"replicas": 4}}))
        return original_apply(self, manifest, dry_run=dry_run)

    monkeypatch.setattr(k8s_client.K8sClient, "apply", apply_with_race)
    result = env.module(changed)
    monkeypatch.undo()
    assert raced, "the race was never triggered"
    assert result.get("failed"), "the other writer's change was silently overwritten"
    assert result["status"] == 409
    assert result["changed"] is bool(result["executed_requests"])  # what it wrote before the conflict counts
    assert "StatefulSet pinot-server" in result["msg"] and "another writer" in result["msg"]
    assert "spec.replicas" in result["msg"]
    assert env.sts("pinot-server")["spec"]["replicas"] == 4  # not clobbered
    # The rerun sees the other writer's change, reports it, and converges.
    rerun = env.module(changed)
    assert not rerun.get("failed"), rerun.get("msg")
    assert "StatefulSet/pinot-server spec.replicas" in rerun["changes"]
    assert env.sts("pinot-server")["spec"]["replicas"] == 2
    assert env.module(changed)["changed"] is False


def test_status_only_updates_between_read_and_write_do_not_block_the_write(env, monkeypatch):
    """resourceVersion also moves when only status changes; that must not fail a run."""
    cluster = description(env.namespace)
    changed = copy.deepcopy(cluster)
    changed["node_groups"][1]["pinot"] = {"jvm_opts": "-Xmx3g"}
    original_apply = k8s_client.K8sClient.apply
    touched = []

    def apply_after_status_change(self, manifest, dry_run=False):
        if not dry_run and manifest["metadata"]["name"] == "pinot-broker" and not touched:
            sts = env.sts("pinot-broker")
            touched.append(env.cp.request(
                "PATCH", STS.format(ns=env.namespace, name="pinot-broker") + "/status",
                {"status": {"observedGeneration": sts["status"].get("observedGeneration", 1),
                            "collisionCount": (sts["status"].get("collisionCount") or 0) + 1}},
                content_type="application/merge-patch+json"))
        return original_apply(self, manifest, dry_run=dry_run)

    monkeypatch.setattr(k8s_client.K8sClient, "apply", apply_after_status_change)
    result = env.module(changed)
    monkeypatch.undo()
    assert touched
    assert not result.get("failed"), result.get("msg")
    assert "-Xmx3g" in json.dumps(env.sts("pinot-broker")["spec"]["template"])
    assert env.module(changed)["changed"] is False


# -- apiserver restart -------------------------------------------------------------------------------------

@pytest.mark.parametrize("down_seconds", [1, 15])
def test_apiserver_restart_during_a_waiting_run_then_rerun_converges(env, down_seconds):
    cluster = description(env.namespace)
    cluster["profiles"]["quick"]["pod_annotations"][ANN_READY_DELAY] = "10s"  # still waiting when the outage begins
    cluster["node_groups"][2]["pinot"] = {"jvm_opts": f"-Xmx{down_seconds}g"}
    proc, result_file = env.playbook(cluster, wait=True, wait_timeout=240)
    time.sleep(8)  # the run is writing / waiting by now
    assert proc.poll() is None, proc.stdout.read()
    outage = env.cp.restart_apiserver(down_seconds)
    out, _err = proc.communicate(timeout=300)
    result = json.loads(result_file.read_text())
    assert "Traceback" not in out
    if result.get("failed"):
        # A clear error naming the apiserver, not a traceback; the rerun resumes.
        assert "cannot reach the apiserver" in result["msg"] or "HTTP 5" in result["msg"], result["msg"]
    record = {"down_seconds": down_seconds, "outage": round(outage, 1), "failed": bool(result.get("failed")),
              "msg": result.get("msg")}
    (REPO / "tests" / "output").mkdir(exist_ok=True)
    with open(REPO / "tests" / "output" / "reliability-apiserver.jsonl", "a") as log:
        log.write(json.dumps(record) + "\n")
    rerun = env.module(cluster, wait=True, wait_timeout=240)
    assert not rerun.get("failed"), rerun.get("msg")
    assert all(g["rollout_complete"] for g in rerun["groups"].values())
    final = env.module(cluster)
    assert final["changed"] is False


# -- a pod that never becomes Ready (upgrade faults at module level) ----------------------------------------

def test_held_pod_stops_the_rollout_at_that_pod_and_names_it(env):
    cluster = description(env.namespace)
    assert not env.module(cluster, wait=True, wait_timeout=120).get("failed")
    minion_generation = env.sts("pinot-minion")["metadata"]["generation"]
    # A new server revision whose pods never become Ready; partition 1: only pinot-server-1 is updated.
    held = copy.deepcopy(cluster)
    held["profiles"]["hold"] = {"pod_annotations": {ANN_HOLD_READY: "true"}}
    held["node_groups"][2]["profile"] = "hold"
    held["node_groups"][3]["pinot"] = {"jvm_opts": "-Xmx5g"}  # a later stage that must not be touched
    started = time.monotonic()
    result = env.module(held, wait=True, wait_timeout=30, partitions={"server": 1})
    elapsed = time.monotonic() - started
    assert result.get("failed")
    assert result["msg"].startswith("rollout not complete after 30s"), result["msg"]
    assert "pinot-server-1" in result["msg"] and "not Ready" in result["msg"], result["msg"]
    assert "server" in result["pending"]
    assert elapsed >= 30  # it waited the whole wait_timeout
    # Nothing after the held stage was written.
    assert not any("pinot-minion" in r for r in result["executed_requests"]), result["executed_requests"]
    assert env.sts("pinot-minion")["metadata"]["generation"] == minion_generation
    pods = {p["name"]: p for p in result["groups"]["server"]["pods"]}
    assert pods["pinot-server-1"]["ready"] is False and pods["pinot-server-0"]["ready"] is True
    # Back to the previous description. Kubernetes does not replace a pod that is not Ready during a rolling
    # update ("forced rollback"): the operator deletes the stuck pod, then the rerun converges.
    reverted = env.module(cluster)
    assert not reverted.get("failed"), reverted.get("msg")
    env.cp.request("DELETE", f"/api/v1/namespaces/{env.namespace}/pods/pinot-server-1")
    restored = env.module(cluster, wait=True, wait_timeout=120)
    assert not restored.get("failed"), restored.get("msg")
    assert env.module(cluster)["changed"] is False


def test_sigkill_of_ansible_playbook_mid_rollout_then_rerun_completes(env):
    """ansible-core workers call setsid(): SIGKILL of ansible-playbook's process group leaves the running module
    alive, so the killed run may still write while the rerun runs. Both must end in the described state."""
    assert not env.module(description(env.namespace), wait=True, wait_timeout=120).get("failed")
    cluster = description(env.namespace)
    cluster["profiles"]["quick"]["pod_annotations"][ANN_READY_DELAY] = "6s"
    cluster["node_groups"][2]["pinot"] = {"jvm_opts": "-Xmx7g"}

    def server_pods():
        return {p["metadata"]["name"]: p for p in env.get(
            f"/api/v1/namespaces/{env.namespace}/pods?labelSelector=pinotops.io/node-group%3Dserver")["items"]}

    with plays.PodHistory(server_pods) as history:
        proc, _result = env.playbook(cluster, wait=True, wait_timeout=240)
        wait_until("the server rollout to start", lambda: (env.sts("pinot-server") or {}).get("status", {}).get(
            "updateRevision") != env.sts("pinot-server")["status"].get("currentRevision"), timeout=60)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        rerun = env.module(cluster, wait=True, wait_timeout=240)
    assert not rerun.get("failed"), rerun.get("msg")
    assert all(g["rollout_complete"] for g in rerun["groups"].values())
    # The rerun wrote nothing new for the server group (its template was already applied) ...
    assert not any("statefulsets/pinot-server" in r for r in rerun["executed_requests"])
    # ... so the StatefulSet controller continued the same rollout: every pod replaced exactly once (its uid
    # changed once), none twice by the killed run and the rerun together.
    assert history.replacements() == dict.fromkeys(server_pods(), 1), history.uids
    assert env.module(cluster)["changed"] is False


# -- RBAC ----------------------------------------------------------------------------------------------------

def rbac_documents(target_namespace, sa_namespace, suffix):
    docs = yaml.safe_load(RBAC_FILE.read_text())["items"]
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            meta["name"] += suffix
        if doc["kind"] in ("Role", "RoleBinding"):
            meta["namespace"] = target_namespace
        if doc["kind"] == "ServiceAccount":
            meta["namespace"] = sa_namespace
        if doc["kind"].endswith("Binding"):
            doc["roleRef"]["name"] += suffix if doc["roleRef"]["kind"] == "ClusterRole" else ""
            for subject in doc["subjects"]:
                subject["namespace"] = sa_namespace
    return docs


def rbac_path(doc):
    kind, meta = doc["kind"], doc["metadata"]
    if kind == "ServiceAccount":
        return f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{meta['name']}"
    plural = {"Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles",
              "ClusterRoleBinding": "clusterrolebindings"}[kind]
    base = "/apis/rbac.authorization.k8s.io/v1"
    if kind.startswith("Cluster"):
        return f"{base}/{plural}/{meta['name']}"
    return f"{base}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"


def test_rbac_least_privilege_works_and_a_missing_rule_is_named(env):
    cp = env.cp
    suffix = "-" + secrets.token_hex(3)
    target = "rbac-" + secrets.token_hex(3)
    sa_ns = "pinotops-sa" + suffix
    for ns in (target, sa_ns):
        cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": ns}})
    docs = rbac_documents(target, sa_ns, suffix)
    try:
        for doc in docs:
            cp.request("PATCH", rbac_path(doc) + "?fieldManager=rbac-test&force=true", doc,
                       content_type="application/apply-patch+yaml")
        token = cp.request("POST", f"/api/v1/namespaces/{sa_ns}/serviceaccounts/pinotops-operator/token",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"expirationSeconds": 3600}})["status"]["token"]
        auth = dict(host=cp.host, api_key=token, ca_cert=str(cp.ca_file))
        cluster = description(target)
        cluster["secret_env"] = [{"name": "PW", "secret": "pinot-auth", "key": "password", "roles": ["controller"]}]
        cp.request("POST", f"/api/v1/namespaces/{target}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pinot-auth"},
            "stringData": {"password": "s3cret"}})

        def run(check=False, **args):
            return run_module("pinot_cluster", dict(dict(auth, cluster=cluster), **args), check=check, diff=True)

        # Everything pinot_cluster / pinot_cluster_info do, with exactly the shipped permissions.
        predicted = run(check=True)
        assert predicted.get("changed") is True, predicted.get("msg")
        created = run()
        assert not created.get("failed"), created.get("msg")
        assert not created.get("warnings") and created["request_counts"]["events"] == len(created["events"]) > 0
        waited = run(wait=True, wait_timeout=120)
        assert not waited.get("failed"), waited.get("msg")
        assert waited["changed"] is False
        # The wait watches StatefulSets: a watch from a list returns at the next change, not at its timeout.
        client = k8s_client.K8sClient(k8s_client.make_configuration(auth))
        selector = {"app.kubernetes.io/instance": "pinot"}
        _items, version = client.list_versioned("StatefulSet", target, selector)
        seen = []
        watcher = threading.Thread(target=lambda: seen.append(
            client.watch_change("StatefulSet", target, selector, version, 600)), daemon=True)
        watcher.start()
        cp.request("PATCH", f"/apis/apps/v1/namespaces/{target}/statefulsets/pinot-minion",
                   {"metadata": {"annotations": {"rbac-test/touched": "1"}}},
                   content_type="application/merge-patch+json")
        watcher.join(60)
        assert seen == [True], "the watch did not return at the change"
        info = run_module("pinot_cluster_info", dict(auth, name="pinot", namespace=target))
        assert not info.get("failed") and info["exists"], info.get("msg")
        pruned = copy.deepcopy(cluster)
        pruned["node_groups"] = pruned["node_groups"][:3]  # prune the minion group
        result = run_module("pinot_cluster", dict(auth, cluster=pruned))
        assert not result.get("failed"), result.get("msg")
        gone = run_module("pinot_cluster", dict(auth, cluster={"name": "pinot", "namespace": target},
                                                state="absent", delete_pvcs=True))
        assert not gone.get("failed"), gone.get("msg")

        # One rule fewer: the run fails before any write, and the message names the missing permission.
        role = next(d for d in docs if d["kind"] == "Role")
        role["rules"][0]["verbs"] = ["get", "list", "create", "delete"]  # no "patch" on statefulsets
        cp.request("PUT", rbac_path(role), role)
        time.sleep(1)
        refused = run_module("pinot_cluster", dict(auth, cluster=cluster))
        assert refused.get("failed")
        assert refused["status"] == 403
        assert 'cannot patch resource "statefulsets" in API group "apps"' in refused["msg"], refused["msg"]
        assert "system:serviceaccount:" in refused["msg"]
        assert refused["request_counts"]["writes"] == 0  # refused at the dry run, before the first write
        assert token not in json.dumps(refused)

        # "create" is needed too: a server-side apply that creates the object is authorized as a create.
        role["rules"][0]["verbs"] = ["get", "list", "patch", "delete"]
        cp.request("PUT", rbac_path(role), role)
        time.sleep(1)
        refused = run_module("pinot_cluster", dict(auth, cluster=cluster))
        assert refused.get("failed") and refused["status"] == 403
        assert 'cannot create resource "statefulsets"' in refused["msg"], refused["msg"]
        assert refused["request_counts"]["writes"] == 0

        # Secrets: only those the Role names. Another Secret of the namespace is refused, naming it.
        role["rules"][0]["verbs"] = ["get", "list", "create", "patch", "delete"]
        cp.request("PUT", rbac_path(role), role)
        cp.request("POST", f"/api/v1/namespaces/{target}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "unlisted"}, "stringData": {"password": "x"}})
        time.sleep(1)
        other = copy.deepcopy(cluster)
        other["secret_env"][0]["secret"] = "unlisted"
        refused = run_module("pinot_cluster", dict(auth, cluster=other))
        assert refused.get("failed") and refused["status"] == 403, refused.get("msg")
        assert 'cannot get resource "secrets"' in refused["msg"] and "unlisted" in refused["msg"], refused["msg"]
        assert refused["request_counts"]["writes"] == 0

        # Without "watch" (as above) a wait polls: a rollout is still waited for to the end.
        assert client.watch_change("StatefulSet", target, selector, version, 5) is False
        rolled = copy.deepcopy(cluster)
        rolled["image"] = "apachepinot/pinot:1.5.1"
        polled = run(cluster=rolled, wait=True, wait_timeout=120)
        assert not polled.get("failed") and polled["changed"], polled.get("msg")
        assert all(g["rollout_complete"] for g in polled["groups"].values()), polled["groups"]

        # Without "create" on events the run does its work and warns once.
        role["rules"] = [rule for rule in role["rules"] if rule["resources"] != ["events"]]
        cp.request("PUT", rbac_path(role), role)
        time.sleep(1)
        unrecorded = run_module("pinot_cluster", dict(auth, cluster=pruned, state="present", wait=False))
        assert not unrecorded.get("failed") and unrecorded["changed"], unrecorded.get("msg")
        assert unrecorded["events"] == []
        assert [w for w in unrecorded["warnings"] if "Kubernetes Events not recorded" in w
                and 'cannot create resource "events"' in w], unrecorded["warnings"]

        clusterrole = next(d for d in docs if d["kind"] == "ClusterRole")
        clusterrole["rules"] = clusterrole["rules"][:1]  # no "list nodes"
        cp.request("PUT", rbac_path(clusterrole), clusterrole)
        time.sleep(1)
        refused = run_module("pinot_cluster", dict(auth, cluster=cluster))
        assert refused.get("failed") and refused["status"] == 403
        assert 'cannot list resource "nodes"' in refused["msg"], refused["msg"]
    finally:
        for doc in docs:
            if doc["kind"].startswith("Cluster"):
                with contextlib.suppress(ControlPlaneError):
                    cp.request("DELETE", rbac_path(doc))
        for ns in (target, sa_ns):
            cp.request("DELETE", f"/api/v1/namespaces/{ns}")
