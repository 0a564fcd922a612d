"""pinot_cluster_rollout on the real control plane (kwok pods) with its gates on the test bed's real Pinot: check mode
predicts and writes nothing, the run restarts each pod once in order and writes only the StatefulSets, the rerun
writes nothing, bad input names its field before any request, the password never shows; with server_steps=zone
each zone's servers are deleted together and recreated once.

The module runs in-process (tests/support/modules.py); the play, its action plugin and the live progress lines are
tests/integration/test_roles.py's."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from tests.support.modules import run_module
from tests.support.rollout import instance_map, small_description
from tests.testbed import plays

pytestmark = pytest.mark.integration

OLD, NEW = "apachepinot/pinot:1.4.0", "apachepinot/pinot:1.5.1"
PASSWORD = "rollout-s3cret-" + secrets.token_hex(4)
ORDER = ["pinot-controller-1", "pinot-controller-0", "pinot-broker-a-0", "pinot-broker-b-0", "pinot-server-hot-a-1",
         "pinot-server-hot-a-0", "pinot-server-hot-b-1", "pinot-server-hot-b-0", "pinot-minion-0"]


class Env:
    def __init__(self, cp, pinot):
        self.cp, self.pinot = cp, pinot
        self.ns = f"rollout-{secrets.token_hex(3)}"
        plays.ensure_namespace(cp, self.ns)
        installed = run_module("pinot_cluster", {"cluster": small_description("pinot", self.ns), "wait": True,
                                                 "kubeconfig": str(cp.kubeconfig), "wait_timeout": 180})
        assert not installed.get("failed"), installed

    def rollout(self, check=False, diff=False, description=None, **options):
        description = description or small_description("pinot", self.ns, NEW)
        args = {"cluster": description, "kubeconfig": str(self.cp.kubeconfig),
                "pinot": {"controller_url": self.pinot.controller_url, "username": "admin", "password": PASSWORD},
                "instance_map": instance_map(description, self.pinot),
                "accept_unavailable": ["controller", "broker", "server"], "restart_check_timeout": 0,
                "rollout_timeout": 120, "gate_timeouts": {"cluster": 30, "server": 30}, **options}
        return run_module("pinot_cluster_rollout", args, check=check, diff=diff)

    def configs(self):
        """The name of each group's ConfigMap (it carries a hash of its content), in description order."""
        found = self.cp.request("GET", f"/api/v1/namespaces/{self.ns}/configmaps")["items"]
        by_group = {c["metadata"]["labels"]["pinotops.io/node-group"]: c["metadata"]["name"] for c in found
                    if "pinotops.io/node-group" in (c["metadata"].get("labels") or {})}
        return [by_group[g["name"]] for g in small_description("pinot", self.ns)["node_groups"]]

    def uids(self):
        return {p["metadata"]["name"]: p["metadata"]["uid"] for p in plays.pods(self.cp, self.ns)}


@pytest.fixture(scope="module")
def env(k8s_control_plane, pinot):
    return Env(k8s_control_plane, pinot)


def test_bad_input_names_the_field_and_sends_nothing(env):
    before = env.uids()
    result = env.rollout(group_batch_size={"server-hot-c": 2})
    assert result["failed"] and result["field"] == "group_batch_size.server-hot-c"
    assert result["executed_requests"] == [] and "request_counts" not in result
    assert env.uids() == before


def test_check_mode_predicts_every_restart_and_writes_nothing(env):
    before = env.uids()
    result = env.rollout(check=True, diff=True)
    assert result["changed"] and not result.get("failed"), result
    assert result["executed_requests"] == []
    assert result["request_counts"]["kubernetes"]["writes"] == 0 == result["request_counts"]["pinot"]["writes"]
    assert result["events"] == []
    assert result["progress"][0].startswith("pre-flight passed: 6 node groups Ready")
    would = {"controller": "pinot-controller-1, pinot-controller-0", "broker-a": "pinot-broker-a-0",
             "broker-b": "pinot-broker-b-0", "server-hot-a": "pinot-server-hot-a-1, pinot-server-hot-a-0",
             "server-hot-b": "pinot-server-hot-b-1, pinot-server-hot-b-0", "minion": "pinot-minion-0"}
    # The image's version is a label of every object of a group, so its config, PDB and headless Service change too.
    assert result["progress"][1:] == [
        f"{group}: would restart {pods}; changes ConfigMap/{config}, PodDisruptionBudget/pinot-{group}, "
        f"Service/pinot-{group}-headless, StatefulSet/pinot-{group}"
        for (group, pods), config in zip(would.items(), env.configs(), strict=True)]
    assert "StatefulSet/pinot-broker-a spec.template.spec.containers.pinot.image" in result["changes"]
    (broker,) = [d for d in result["diff"] if d["after_header"] == "StatefulSet/pinot-broker-a"]
    assert f"image: {OLD}" in broker["before"] and f"image: {NEW}" in broker["after"]
    assert env.uids() == before


def test_the_run_restarts_each_pod_once_in_order_and_the_rerun_writes_nothing(env):
    before = env.uids()
    with plays.PodHistory(lambda: {p["metadata"]["name"]: p for p in plays.pods(env.cp, env.ns)}) as history:
        result = env.rollout()
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert history.replacements() == {name: 1 for name in before}, history.uids
    assert [pod for step in result["steps"] for pod in step["restarted"]] == ORDER
    restarted = [line.split(":")[0] for line in result["progress"] if "restarted, Ready after" in line]
    assert restarted == [f"{step['label']} {step['pods'][0]}" for step in result["steps"]]
    # Writes: one StatefulSet write per step (the first of a group carries the new template), the group's other
    # objects (their version label) once, with its first step.
    statefulsets = f"PATCH /apis/apps/v1/namespaces/{env.ns}/statefulsets/"
    sts_writes = [r for r in result["executed_requests"] if r.startswith(statefulsets)]
    assert len(sts_writes) == len(ORDER)
    others = [r for r in result["executed_requests"] if not r.startswith(statefulsets)]
    assert sorted(others) == sorted(set(others)) and len(others) == 3 * 6, others
    kinds = f"(/api/v1|/apis/policy/v1)/namespaces/{env.ns}/(configmaps|services|poddisruptionbudgets)/"
    assert all(re.match("PATCH " + kinds, r) for r in others), others
    rolled = sorted(e["name"] for e in result["events"] if e["reason"] == "Rolled")
    assert rolled == sorted(ORDER)
    assert all(step["gates"] and all(c["ok"] for g in step["gates"] for c in g["checks"]) for step in result["steps"])
    assert PASSWORD not in json.dumps(result)

    again = env.rollout()
    assert not again["changed"] and not again.get("failed"), again.get("msg")
    assert again["executed_requests"] == [] and again["events"] == [] and again["steps"] == []
    assert again["request_counts"]["kubernetes"]["writes"] == 0 == again["request_counts"]["pinot"]["writes"]
    assert again["request_counts"]["kubernetes"]["events"] == 0
    assert all(line.endswith("nothing to restart") for line in again["progress"][1:])


def test_zone_steps_replace_the_servers_of_each_zone_together_once(env):
    # After the upgrade above, a new server setting rolls the servers only: zone-a's two, then zone-b's two.
    description = small_description("pinot", env.ns, NEW)
    description["pinot"] = {"server": {"properties": {"pinot.server.query.executor.timeout": 30000}}}
    before = env.uids()
    with plays.PodHistory(lambda: {p["metadata"]["name"]: p for p in plays.pods(env.cp, env.ns)}) as history:
        result = env.rollout(description=description, server_steps="zone")
    assert result["changed"] and not result.get("failed"), result.get("msg")
    servers = {name for name in before if "-server-" in name}
    # Each server once: a pod its StatefulSet had already replaced when the zone's pods were deleted was left alone.
    assert history.replacements() == {name: int(name in servers) for name in before}, history.uids
    assert [(s["label"], s["zone"], s["group"], sorted(s["restarted"])) for s in result["steps"]] == [
        ("zone zone-a 1/2", "zone-a", "server-hot-a", ["pinot-server-hot-a-0", "pinot-server-hot-a-1"]),
        ("zone zone-b 2/2", "zone-b", "server-hot-b", ["pinot-server-hot-b-0", "pinot-server-hot-b-1"])]
    deletions = [r for r in result["executed_requests"] if r.startswith(f"DELETE /api/v1/namespaces/{env.ns}/pods/")]
    assert deletions and {r.rsplit("/", 1)[1] for r in deletions} <= servers
    # A pod the StatefulSet controller replaced itself right after the write (before the deletion) gets no Rolled.
    rolled = {e["name"] for e in result["events"] if e["reason"] == "Rolled"}
    assert rolled and rolled <= servers
    assert sum(line.startswith("zone zone-") and "restarted, Ready after" in line for line in result["progress"]) == 4

    again = env.rollout(description=description, server_steps="zone")
    assert not again["changed"] and not again.get("failed"), again.get("msg")
    assert again["executed_requests"] == [] and again["steps"] == []
