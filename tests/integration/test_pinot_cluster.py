"""pinot_cluster / pinot_cluster_info against the real Kubernetes control plane of the test bed.

Every task runs through ansible-playbook with arguments as a user writes them; every assertion about the
cluster reads the real objects from the apiserver (placement by the real scheduler, rollouts by the real
StatefulSet controller; kwok only plays the kubelets). The tests of this module share one namespace and run
in file order: each step starts from the state the previous one left.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.testbed.k8s import ANN_HOLD_READY, ANN_READY_DELAY

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
ZONE_LABEL = "topology.kubernetes.io/zone"
GROUP_LABEL = "pinotops.io/node-group"
SECRET_VALUE = "hunter2-" + secrets.token_hex(4)
# How the Secret's value would leak if a module echoed what it read from the Secret's data: base64.
SECRET_FORMS = (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode().rstrip("="))

GROUP_ZONES = {
    "controller": ["zone-a", "zone-b", "zone-c"],
    "broker-a": ["zone-a"],
    "broker-b": ["zone-b"],
    "server-hot-a": ["zone-a"],
    "server-hot-b": ["zone-b"],
    "server-cold-c": ["zone-c"],
    "minion": None,
}


def base_description(namespace):
    return {
        "name": "pinot",
        "namespace": namespace,
        "image": "apachepinot/pinot:1.4.0",
        "zookeeper": {"address": "zk.example:2181/pinot"},
        "pinot": {
            "controller": {"properties": {
                "controller.task.scheduler.enabled": True,
                "controller.admin.access.control.principals": "admin",
                "controller.admin.access.control.principals.admin.password": "${env:PINOT_ADMIN_PASSWORD}"},
                "jvm_opts": "-Xms256m -Xmx1g"},
            "server": {"properties": {"pinot.server.instance.realtime.alloc.offheap": True}},
        },
        "secret_env": [{"name": "PINOT_ADMIN_PASSWORD", "secret": "pinot-auth", "key": "password",
                        "roles": ["controller"]}],
        # Three controllers need a deep store; kwok pods never reach it.
        "deep_store": {"uri": "s3://pinot-segments/analytics", "region": "us-east-1"},
        "profiles": {
            "small": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}, "storage": {"size": "1Gi"},
                      "pod_annotations": {ANN_READY_DELAY: "1s"}},
            "stateless": {"pod_annotations": {ANN_READY_DELAY: "1s"}},
        },
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 3, "zones": GROUP_ZONES["controller"],
             "profile": "small"},
            {"name": "broker-a", "role": "broker", "replicas": 1, "zone": "zone-a", "profile": "stateless",
             "tags": ["DefaultTenant_BROKER"]},
            {"name": "broker-b", "role": "broker", "replicas": 1, "zone": "zone-b", "profile": "stateless"},
            {"name": "server-hot-a", "role": "server", "replicas": 2, "zone": "zone-a", "profile": "small",
             "tags": ["hot_OFFLINE", "hot_REALTIME"]},
            {"name": "server-hot-b", "role": "server", "replicas": 2, "zone": "zone-b", "profile": "small",
             "tags": ["hot_OFFLINE", "hot_REALTIME"]},
            {"name": "server-cold-c", "role": "server", "replicas": 1, "zone": "zone-c", "profile": "small",
             "tags": ["cold_OFFLINE"]},
            {"name": "minion", "role": "minion", "replicas": 1, "profile": "stateless"},
        ],
    }


class Env:
    """The shared namespace, the control plane and a playbook runner."""

    def __init__(self, cp, namespace, workdir):
        self.cp = cp
        self.namespace = namespace
        self.workdir = workdir
        self.description = base_description(namespace)
        self.runs = 0

    # -- running the module the way a user does ---------------------------------------------------------
    def play(self, module="pinotops.k8s.pinot_cluster", check=False, diff=False, env=None, kubeconfig=True,
             **args):
        """Run one task in ansible-playbook; returns (registered result, full stdout)."""
        self.runs += 1
        result_file = self.workdir / f"result-{self.runs}.json"
        task_args = {"kubeconfig": str(self.cp.kubeconfig)} if kubeconfig else {}
        if module.endswith("pinot_cluster"):
            task_args["cluster"] = copy.deepcopy(self.description)
        task_args.update(args)
        playbook = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "under test", module: task_args, "register": "r", "ignore_errors": True},
            {"name": "keep the result", "check_mode": False, "delegate_to": "localhost",
             "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(result_file)}},
        ]}]
        path = self.workdir / f"play-{self.runs}.yml"
        path.write_text(yaml.safe_dump(playbook))
        command = [ANSIBLE_PLAYBOOK, str(path)] + (["--check"] if check else []) + (["--diff"] if diff else [])
        environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
                           ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1", **(env or {}))
        proc = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, check=False)
        assert result_file.exists(), proc.stdout + proc.stderr
        return json.loads(result_file.read_text()), proc.stdout + proc.stderr

    # -- reading real objects ------------------------------------------------------------------------------
    def get(self, path):
        return self.cp.get_or_none(path)

    def sts(self, name):
        return self.get(f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/{name}")

    def items(self, plural, selector, api="/api/v1"):
        query = "?labelSelector=" + quote(selector) if selector else ""
        return self.get(f"{api}/namespaces/{self.namespace}/{plural}{query}")["items"]

    def pods(self, group):
        return self.items("pods", f"{GROUP_LABEL}={group}")

    def config_name(self, group):
        """The ConfigMap a group's StatefulSet mounts (named after its content)."""
        volumes = self.sts(f"pinot-{group}")["spec"]["template"]["spec"]["volumes"]
        return next(v["configMap"]["name"] for v in volumes if v["name"] == "config")

    def config(self, group):
        return self.get(f"/api/v1/namespaces/{self.namespace}/configmaps/{self.config_name(group)}")

    def node_zone(self, node):
        return self.get(f"/api/v1/nodes/{node}")["metadata"]["labels"].get(ZONE_LABEL)

    def apply_as(self, manager, manifest, path):
        """Server-side apply by another field manager (another tool editing the same object)."""
        return self.cp.request("PATCH", f"{path}?fieldManager={manager}&force=true", manifest,
                               content_type="application/apply-patch+yaml")


@pytest.fixture(scope="module")
def env(k8s_control_plane, tmp_path_factory):
    cp = k8s_control_plane
    namespace = "pc-" + secrets.token_hex(3)
    cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": namespace}})
    cp.request("POST", f"/api/v1/namespaces/{namespace}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pinot-auth"},
        "stringData": {"password": SECRET_VALUE}})
    yield Env(cp, namespace, tmp_path_factory.mktemp("pinot_cluster"))
    cp.request("DELETE", f"/api/v1/namespaces/{namespace}")


def unsuffixed(refs):
    """Object refs with a group config's content suffix cut (`ConfigMap/pinot-x-config-0a1b2c3d4e` ->
    `ConfigMap/pinot-x-config`)."""
    return {re.sub(r"^(ConfigMap/.*-config)-[0-9a-f]{10}$", r"\1", r) for r in refs}


def revisions(env, group):
    return {p["metadata"]["name"]: p["metadata"]["labels"].get("controller-revision-hash") for p in env.pods(group)}


def test_invalid_description_fails_naming_the_field_and_writes_nothing(env):
    env.description["node_groups"][2]["role"] = "brokr"
    try:
        result, _out = env.play()
    finally:
        env.description["node_groups"][2]["role"] = "broker"
    assert result["failed"]
    assert result["field"] == "cluster.node_groups[2].role"
    assert "unknown role 'brokr'" in result["msg"]
    assert result["executed_requests"] == []
    assert env.items("statefulsets", "", api="/apis/apps/v1") == []


def test_an_unknown_key_is_refused_by_its_path_before_the_module_runs(env):
    env.description["node_groups"][2]["colour"] = "red"
    try:
        result, _out = env.play()
    finally:
        del env.description["node_groups"][2]["colour"]
    assert result["failed"]
    assert "Unsupported parameters" in result["msg"] and "cluster.node_groups.colour" in result["msg"], result["msg"]
    assert env.items("statefulsets", "", api="/apis/apps/v1") == []


def test_unknown_zone_and_missing_secret_fail_before_any_write(env):
    env.description["node_groups"][3]["zone"] = "zone-d"
    try:
        result, _out = env.play()
    finally:
        env.description["node_groups"][3]["zone"] = "zone-a"
    assert result["failed"] and result["field"] == "cluster.node_groups[3].zones"
    assert "zone-a, zone-b, zone-c" in result["msg"]
    assert result["request_counts"]["writes"] == 0

    env.description["secret_env"][0]["key"] = "passwd"
    try:
        result, _out = env.play()
    finally:
        env.description["secret_env"][0]["key"] = "password"
    assert result["failed"] and result["field"] == "cluster.secret_env[0].key"
    assert result["request_counts"]["writes"] == 0
    assert env.items("configmaps", "app.kubernetes.io/instance=pinot") == []


def test_check_mode_on_an_empty_namespace_predicts_and_writes_nothing(env):
    result, out = env.play(check=True, diff=True)
    assert result["changed"] is True
    assert result["executed_requests"] == []
    assert result["request_counts"]["writes"] == 0
    assert result["request_counts"]["dry_runs"] == len(result["objects"]) == 7 * 4 + 4
    assert {o["action"] for o in result["objects"]} == {"created"}
    assert "StatefulSet/pinot-server-hot-a (created)" in result["changes"]
    assert env.items("statefulsets", "", api="/apis/apps/v1") == []
    assert not [form for form in SECRET_FORMS if form in out]


def test_heterogeneous_three_zone_cluster_becomes_ready_in_its_zones(env):
    started = time.monotonic()
    result, out = env.play(wait=True, wait_timeout=240)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert all(g["rollout_complete"] for g in result["groups"].values()), result["groups"]
    assert set(result["groups"]) == set(GROUP_ZONES)
    print(f"install with wait: {time.monotonic() - started:.1f}s, {result['request_counts']}")
    # Independent check on the real objects: pod -> node (real scheduler) -> zone label of the node.
    for group, zones in GROUP_ZONES.items():
        sts = env.sts(f"pinot-{group}")
        assert sts["status"]["readyReplicas"] == sts["spec"]["replicas"]
        pods = env.pods(group)
        assert len(pods) == sts["spec"]["replicas"]
        for pod in pods:
            assert any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
            zone = env.node_zone(pod["spec"]["nodeName"])
            if zones:
                assert zone in zones, (pod["metadata"]["name"], zone)
    # three controllers spread over three zones
    assert {env.node_zone(p["spec"]["nodeName"]) for p in env.pods("controller")} == {"zone-a", "zone-b", "zone-c"}
    # the credential stays in the Secret: the ConfigMap holds a reference, the container a secretKeyRef
    conf = env.config("controller")["data"]
    assert "principals.admin.password=${env:PINOT_ADMIN_PASSWORD}" in conf["pinot-controller.conf"]
    for cm in env.items("configmaps", "app.kubernetes.io/instance=pinot"):
        assert not [form for form in SECRET_FORMS if form in json.dumps(cm)]
    assert not [form for form in SECRET_FORMS if form in out]
    container = env.sts("pinot-controller")["spec"]["template"]["spec"]["containers"][0]
    secret_ref = {"secretKeyRef": {"name": "pinot-auth", "key": "password"}}
    assert {"name": "PINOT_ADMIN_PASSWORD", "valueFrom": secret_ref} in container["env"]
    # PDB and Services exist
    assert env.get(f"/apis/policy/v1/namespaces/{env.namespace}/poddisruptionbudgets/pinot-server-hot-a")
    svc = env.get(f"/api/v1/namespaces/{env.namespace}/services/pinot-broker")
    assert GROUP_LABEL not in svc["spec"]["selector"]  # the client Service spans both broker groups
    assert env.get(f"/api/v1/namespaces/{env.namespace}/services/pinot-broker-a-headless")["spec"]["clusterIP"] \
        == "None"


def test_second_run_changes_nothing_and_sends_no_write(env):
    started = time.monotonic()
    result, _out = env.play()
    elapsed = time.monotonic() - started
    assert result["changed"] is False
    assert result["changes"] == []
    assert result["executed_requests"] == []
    assert result["request_counts"]["writes"] == 0
    assert {o["action"] for o in result["objects"]} == {"unchanged"}
    # Nothing added or removed; the zoned server groups are listed with their zone's pool for the pools check.
    assert [(c["group"], c["pool"], c["added"], c["removed"]) for c in result["instances"]] == [
        ("server-cold-c", 2, [], []), ("server-hot-a", 0, [], []), ("server-hot-b", 1, [], [])]
    print(f"no-op run: module {result['elapsed_seconds']}s, playbook {elapsed:.1f}s, {result['request_counts']}")


def test_info_module_reports_groups_and_pods(env):
    result, _out = env.play(module="pinotops.k8s.pinot_cluster_info", name="pinot", namespace=env.namespace)
    assert result["changed"] is False and result["exists"] is True
    assert result["all_rollouts_complete"] is True
    hot_a = result["groups"]["server-hot-a"]
    assert hot_a["replicas"] == hot_a["ready"] == 2
    assert {p["zone"] for p in hot_a["pods"]} == {"zone-a"}
    assert all(p["revision"] == hot_a["update_revision"] and p["ready"] for p in hot_a["pods"])
    kinds = {o["kind"] for o in result["objects"]}
    assert kinds == {"StatefulSet", "PodDisruptionBudget", "Service", "ConfigMap", "PersistentVolumeClaim"}


def test_awx_style_credentials_from_the_environment(env):
    """AWX's Kubernetes bearer-token credential injects K8S_AUTH_HOST/API_KEY/VERIFY_SSL/SSL_CA_CERT only."""
    credentials = {"K8S_AUTH_HOST": env.cp.host, "K8S_AUTH_API_KEY": env.cp.token, "K8S_AUTH_VERIFY_SSL": "True",
                   "K8S_AUTH_SSL_CA_CERT": str(env.cp.ca_file), "HOME": str(env.workdir), "KUBECONFIG": "/nonexistent"}
    result, out = env.play(module="pinotops.k8s.pinot_cluster_info", kubeconfig=False, env=credentials,
                           name="pinot", namespace=env.namespace)
    assert not result.get("failed"), result.get("msg")
    assert result["all_rollouts_complete"] is True
    assert env.cp.token not in out
    credentials["K8S_AUTH_API_KEY"] = "wrong-token"
    result, out = env.play(module="pinotops.k8s.pinot_cluster_info", kubeconfig=False, env=credentials,
                           name="pinot", namespace=env.namespace)
    assert result["failed"] and result["status"] == 401
    assert result["msg"].startswith("list StatefulSet failed: HTTP 401")
    assert "wrong-token" not in result["msg"]


def test_pinot_config_change_rolls_only_its_group(env):
    before = {group: revisions(env, group) for group in GROUP_ZONES}
    update_before = {group: env.sts(f"pinot-{group}")["status"]["updateRevision"] for group in GROUP_ZONES}
    env.description["node_groups"][3]["pinot"] = {"properties": {"pinot.server.query.executor.timeout": 20000}}
    old_config = env.config_name("server-hot-a")
    result, _out = env.play(diff=True, wait=True, wait_timeout=120)
    assert result["changed"] is True
    new_config = env.config_name("server-hot-a")
    assert new_config != old_config and new_config.startswith("pinot-server-hot-a-config-")
    # A new config under a new name, mounted by the group; the old one deleted once no pod mounts it (the run waited).
    assert result["changes"] == [f"ConfigMap/{new_config} (created)",
                                 "StatefulSet/pinot-server-hot-a spec.template.spec.volumes.config.configMap.name",
                                 f"ConfigMap/{old_config} (deleted)"]
    assert result["executed_requests"] == [
        f"PATCH /api/v1/namespaces/{env.namespace}/configmaps/{new_config}",
        f"PATCH /apis/apps/v1/namespaces/{env.namespace}/statefulsets/pinot-server-hot-a",
        f"DELETE /api/v1/namespaces/{env.namespace}/configmaps/{old_config}"]
    for group in GROUP_ZONES:
        sts = env.sts(f"pinot-{group}")
        if group == "server-hot-a":
            assert sts["status"]["updateRevision"] != update_before[group]
            assert set(revisions(env, group).values()) == {sts["status"]["updateRevision"]}
        else:
            assert sts["status"]["updateRevision"] == update_before[group], group
            assert revisions(env, group) == before[group], group
    # The diff (YAML, the .conf as a block) shows the new config against the one the pods mounted: the line that
    # changed is a line of its own.
    [configmap] = [d for d in result["diff"] if d["after_header"] == f"ConfigMap/{new_config}"]
    assert configmap["before_header"] == f"ConfigMap/{old_config}"
    assert "    pinot.server.query.executor.timeout=20000" in configmap["after"].splitlines()
    assert "pinot.server.query.executor.timeout" not in configmap["before"]
    assert yaml.safe_load(configmap["after"])["data"]["pinot-server.conf"].endswith("\n")
    again, _out = env.play(wait=True)
    assert again["changed"] is False and again["executed_requests"] == []


def test_fields_of_other_managers_survive(env):
    path = f"/apis/apps/v1/namespaces/{env.namespace}/statefulsets/pinot-server-hot-b"
    env.apply_as("other-tool", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                "metadata": {"name": "pinot-server-hot-b",
                                             "annotations": {"example.com/owner": "team-olap"}}}, path)
    result, _out = env.play()
    assert result["changed"] is False and result["executed_requests"] == []
    assert env.sts("pinot-server-hot-b")["metadata"]["annotations"]["example.com/owner"] == "team-olap"
    # an HPA-owned replica count (replicas omitted from the description) is never written
    env.description["node_groups"][5].pop("replicas")
    result, _out = env.play()
    # pinotops releases spec.replicas; the apiserver defaults it to 1, which it already was
    assert result["changed"] is False
    env.apply_as("hpa", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                         "metadata": {"name": "pinot-server-cold-c"}, "spec": {"replicas": 2}},
                 f"/apis/apps/v1/namespaces/{env.namespace}/statefulsets/pinot-server-cold-c")
    result, _out = env.play()
    assert result["changed"] is False
    assert env.sts("pinot-server-cold-c")["spec"]["replicas"] == 2


def test_drift_is_corrected_and_reported(env):
    path = f"/apis/apps/v1/namespaces/{env.namespace}/statefulsets/pinot-broker-b"
    env.cp.request("PATCH", path + "?fieldManager=kubectl-edit", {
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "pinot", "image": "apachepinot/pinot:latest"}]}}}},
        content_type="application/strategic-merge-patch+json")
    predicted, _out = env.play(check=True)
    assert predicted["changed"] is True and predicted["executed_requests"] == []
    assert env.sts("pinot-broker-b")["spec"]["replicas"] == 3  # check mode wrote nothing
    result, _out = env.play()
    assert result["changed"] is True
    assert result["changes"] == predicted["changes"]  # check mode predicted exactly
    assert set(result["changes"]) == {"StatefulSet/pinot-broker-b spec.replicas",
                                      "StatefulSet/pinot-broker-b spec.template.spec.containers.pinot.image"}
    assert result["executed_requests"] == [f"PATCH {path}"]
    sts = env.sts("pinot-broker-b")
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "apachepinot/pinot:1.4.0"


def test_immutable_change_fails_up_front(env):
    env.description["profiles"]["small"]["storage"]["size"] = "2Gi"
    cm_before = env.config("controller")
    env.description["pinot"]["controller"]["jvm_opts"] = "-Xmx2g"  # a valid change that must not be written
    try:
        result, _out = env.play()
    finally:
        env.description["profiles"]["small"]["storage"]["size"] = "1Gi"
        env.description["pinot"]["controller"]["jvm_opts"] = "-Xms256m -Xmx1g"
    assert result["failed"]
    assert result["field"] == "cluster.node_groups[0]"
    assert "spec.volumeClaimTemplates[data].storage (1Gi -> 2Gi)" in result["msg"]
    assert "Nothing was written" in result["msg"]
    assert result["executed_requests"] == []
    assert env.config("controller") == cm_before


def test_partitioned_rollout_of_a_subset_and_wait(env):
    env.description["node_groups"][4]["image"] = "apachepinot/pinot:1.5.1"
    env.description["node_groups"][1]["image"] = "apachepinot/pinot:1.5.1"  # not in the subset: untouched
    result, _out = env.play(node_groups=["server-hot-b"], partitions={"server-hot-b": 1}, wait=True,
                            wait_timeout=120)
    assert not result.get("failed"), result.get("msg")
    assert unsuffixed(c.split(" ")[0] for c in result["changes"]) == {
        "StatefulSet/pinot-server-hot-b", "ConfigMap/pinot-server-hot-b-config",
        "Service/pinot-server-hot-b-headless", "PodDisruptionBudget/pinot-server-hot-b"}
    group = result["groups"]["server-hot-b"]
    assert group["partition"] == 1 and group["rollout_complete"] is True
    by_pod = {p["name"]: p["revision"] for p in group["pods"]}
    assert by_pod["pinot-server-hot-b-1"] == group["update_revision"]
    assert by_pod["pinot-server-hot-b-0"] == group["current_revision"] != group["update_revision"]
    assert env.sts("pinot-broker-a")["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.4.0")
    # releasing the partition completes the rollout
    result, _out = env.play(node_groups=["server-hot-b"], wait=True, wait_timeout=120)
    group = result["groups"]["server-hot-b"]
    assert group["partition"] == 0 and group["rollout_complete"]
    assert {p["revision"] for p in group["pods"]} == {group["update_revision"]}
    env.description["node_groups"][1]["image"] = "apachepinot/pinot:1.4.0"


def test_wait_timeout_reports_what_is_pending(env):
    env.description["node_groups"][2]["overrides"] = {"pod_annotations": {ANN_HOLD_READY: "true"}}
    started = time.monotonic()
    result, _out = env.play(node_groups=["broker-b"], wait=True, wait_timeout=8)
    assert time.monotonic() - started >= 8  # it waited the whole wait_timeout
    assert result["failed"]
    assert "rollout not complete after 8s" in result["msg"]
    # The held pod runs but is not Ready: the message says so, as Kubernetes' own status does.
    assert "pods not Ready: pinot-broker-b-0 (running, not ready" in result["msg"], result["msg"]
    assert set(result["pending"]) == {"broker-b"}
    assert result["groups"]["broker-b"]["rollout_complete"] is False
    del env.description["node_groups"][2]["overrides"]
    # A StatefulSet waits for a broken pod before it rolls back (Kubernetes' "forced rollback"): let it heal.
    env.cp.request("PATCH", f"/api/v1/namespaces/{env.namespace}/pods/pinot-broker-b-0",
                   {"metadata": {"annotations": {ANN_HOLD_READY: None}}},
                   content_type="application/merge-patch+json")
    result, _out = env.play(node_groups=["broker-b"], wait=True, wait_timeout=120)
    assert not result.get("failed"), result.get("msg")


def test_removed_group_is_pruned_and_its_volumes_kept(env):
    removed = env.description["node_groups"].pop(5)  # server-cold-c
    result, _out = env.play(check=True)
    assert result["changed"] and result["executed_requests"] == []
    # The Pinot instance that goes with it, to drain before the run and drop after it (pinot_instance).
    pruned = [c for c in result["instances"] if c["removed"]]
    assert pruned == [{"group": "server-cold-c", "role": "server", "tags": ["cold_OFFLINE"], "pool": 2,
                       "instances": [], "added": [],
                       "removed": [f"Server_pinot-server-cold-c-{n}.pinot-server-cold-c-headless."
                                   f"{env.namespace}.svc.cluster.local_8098" for n in (0, 1)]}]
    assert env.sts("pinot-server-cold-c") is not None
    result, _out = env.play()
    deleted = unsuffixed(f"{o['kind']}/{o['name']}" for o in result["objects"] if o["action"] == "deleted")
    assert deleted == {"StatefulSet/pinot-server-cold-c", "ConfigMap/pinot-server-cold-c-config",
                       "Service/pinot-server-cold-c-headless", "PodDisruptionBudget/pinot-server-cold-c"}
    assert env.sts("pinot-server-cold-c") is None
    assert env.sts("pinot-server-hot-a") is not None
    pvcs = env.items("persistentvolumeclaims", f"{GROUP_LABEL}=server-cold-c")
    assert len(pvcs) >= 1  # kept by default
    result, _out = env.play()
    assert result["changed"] is False
    env.removed = removed


def test_state_absent_removes_the_cluster_and_keeps_volumes(env):
    result, _out = env.play(check=True, state="absent")
    assert result["changed"] and result["executed_requests"] == []
    assert env.sts("pinot-controller") is not None
    result, _out = env.play(state="absent", cluster={"name": "pinot", "namespace": env.namespace})
    assert result["changed"] is True
    selector = "app.kubernetes.io/instance=pinot"
    assert env.items("statefulsets", selector, api="/apis/apps/v1") == []
    assert env.items("services", selector) == []
    assert env.items("configmaps", selector) == []
    assert env.items("poddisruptionbudgets", selector, api="/apis/policy/v1") == []
    assert env.items("persistentvolumeclaims", selector)  # kept
    result, _out = env.play(state="absent", delete_pvcs=True, cluster={"name": "pinot", "namespace": env.namespace})
    assert result["changed"] is True
    assert all(p["metadata"].get("deletionTimestamp") for p in env.items("persistentvolumeclaims", selector))
    result, _out = env.play(state="absent", cluster={"name": "pinot", "namespace": env.namespace})
    assert result["changed"] is False
