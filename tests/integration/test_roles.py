"""Roles and playbooks end to end: install, ordered gated upgrade, gate failure and resume, drift report.

ansible-playbook runs site.yml / upgrade.yml / reconcile.yml from the collection against an inventory of two
Pinot clusters (two namespaces) on the real control plane. Every pod's Pinot gate points at one of the test
bed's real Pinot processes (kwok pods run no containers). Assertions read the real pods from the apiserver.
Tests share state and run in file order.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading
import time
from datetime import datetime

import pytest
import yaml

from tests.testbed import demo
from tests.testbed.k8s import ANN_READY_DELAY

pytestmark = pytest.mark.integration

ROLE_ORDER = ["controller", "broker", "server", "minion"]


def small_description(name, namespace, image="apachepinot/pinot:1.4.0"):
    profile = {"pod_annotations": {ANN_READY_DELAY: "1s"}}
    return {
        "name": name, "namespace": namespace, "image": image, "zookeeper": {"address": "zk.example:2181/pinot"},
        "profiles": {"p": profile},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 2, "zones": ["zone-a", "zone-b"], "profile": "p"},
            {"name": "broker-a", "role": "broker", "replicas": 1, "zone": "zone-a", "profile": "p"},
            {"name": "broker-b", "role": "broker", "replicas": 1, "zone": "zone-b", "profile": "p"},
            {"name": "server-hot-a", "role": "server", "replicas": 2, "zone": "zone-a", "profile": "p"},
            {"name": "server-hot-b", "role": "server", "replicas": 2, "zone": "zone-b", "profile": "p"},
            {"name": "minion", "role": "minion", "replicas": 1, "profile": "p"},
        ],
    }


class Bed:
    def __init__(self, cp, pinot, tmp):
        self.cp, self.pinot = cp, pinot
        suffix = secrets.token_hex(3)
        self.ns = {"one": f"roles-one-{suffix}", "two": f"roles-two-{suffix}"}
        for ns in self.ns.values():
            demo.ensure_namespace(cp, ns)
        self.inv = tmp / "inventory"
        clusters = {h: small_description("pinot", ns) for h, ns in self.ns.items()}
        demo.write_inventory(self.inv, clusters, pinot, str(cp.kubeconfig), extra={
            "pinot_upgrade_gate_timeouts": {"cluster": 30, "controller": 30, "broker": 30, "server": 12,
                                            "minion": 30}})
        # Server gates of cluster one: server-hot-a-1 -> real server-1, every other server pod -> real server-0.
        servers = [i for i in pinot.instances if i.startswith("Server_")]
        hv = self.host_vars("one")
        for pod in ("pinot-server-hot-a-0", "pinot-server-hot-b-0", "pinot-server-hot-b-1"):
            hv["pinot_instance_map"][pod] = {"instance": servers[0], "health_url": pinot.server_admin_urls[0]}
        hv["pinot_instance_map"]["pinot-server-hot-a-1"] = {"instance": servers[1],
                                                            "health_url": pinot.server_admin_urls[1]}
        self.save_host_vars("one", hv)

    def host_vars(self, host):
        return yaml.safe_load((self.inv / "host_vars" / f"{host}.yml").read_text())

    def save_host_vars(self, host, hv):
        (self.inv / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(hv, sort_keys=False))

    def play(self, playbook, *args):
        return demo.run_playbook(playbook, self.inv, *args)

    def pods(self, host):
        return {p["metadata"]["name"]: p for p in demo.pods(self.cp, self.ns[host])}

    def sts(self, host, group):
        return self.cp.request("GET", f"/apis/apps/v1/namespaces/{self.ns[host]}/statefulsets/pinot-{group}")


@pytest.fixture(scope="module")
def bed(k8s_control_plane, pinot, tmp_path_factory):
    return Bed(k8s_control_plane, pinot, tmp_path_factory.mktemp("roles"))


def _ts(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ready_at(pod):
    for cond in pod["status"].get("conditions", []):
        if cond["type"] == "Ready" and cond["status"] == "True":
            return _ts(cond["lastTransitionTime"])
    return None


def _image(pod):
    return pod["spec"]["containers"][0]["image"]


def test_install_two_clusters_then_idempotent(bed):
    rc, out, seconds = bed.play("site.yml")
    assert rc == 0, out[-3000:]
    summary = demo.recap(out)
    assert summary["one"]["changed"] > 0 and summary["two"]["changed"] > 0
    for host in ("one", "two"):
        pods = bed.pods(host)
        assert len(pods) == 9, sorted(pods)
        assert all(_ready_at(p) for p in pods.values())
        assert {_image(p) for p in pods.values()} == {"apachepinot/pinot:1.4.0"}
    # Role by role: no broker pod exists before every controller pod is Ready, and so on.
    pods = bed.pods("one")
    by_role = {r: [p for p in pods.values() if p["metadata"]["labels"].get("app.kubernetes.io/component") == r]
               for r in ROLE_ORDER}
    for earlier, later in zip(ROLE_ORDER, ROLE_ORDER[1:], strict=False):
        first_later = min(_ts(p["metadata"]["creationTimestamp"]) for p in by_role[later])
        assert max(_ready_at(p) for p in by_role[earlier]) <= first_later
    rc, out, _err = bed.play("site.yml")
    assert rc == 0, out[-3000:]
    assert {h: s["changed"] for h, s in demo.recap(out).items()} == {"one": 0, "two": 0}
    print(f"install of two clusters: {seconds}s")


def test_upgrade_is_ordered_serial_and_gated(bed):
    before = bed.pods("one")
    untouched = {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()}
    demo.set_image(bed.inv, "one", "apachepinot/pinot:1.5.1")
    rc, out, seconds = bed.play("upgrade.yml", "--limit", "one")
    assert rc == 0, out[-3000:]
    for label in ("controller 1/2", "server-hot-b 2/2", "minion 1/1"):
        assert f"Pinot gate | {label}" in out
    pods = bed.pods("one")
    assert {_image(p) for p in pods.values()} == {"apachepinot/pinot:1.5.1"}
    assert all(pods[n]["metadata"]["uid"] != before[n]["metadata"]["uid"] for n in pods)
    ordered = sorted(pods.values(), key=lambda p: (_ts(p["metadata"]["creationTimestamp"]), _ready_at(p)))
    names = [p["metadata"]["name"] for p in ordered]
    expected = ["pinot-controller-1", "pinot-controller-0", "pinot-broker-a-0", "pinot-broker-b-0",
                "pinot-server-hot-a-1", "pinot-server-hot-a-0", "pinot-server-hot-b-1", "pinot-server-hot-b-0",
                "pinot-minion-0"]
    assert names == expected
    # Strictly one pod at a time: each pod is created only after the previous one is Ready again.
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        names = (prev["metadata"]["name"], nxt["metadata"]["name"])
        assert _ts(nxt["metadata"]["creationTimestamp"]) >= _ready_at(prev), names
    assert {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()} == untouched
    # The partition is released at the end: a reconcile of the same description changes nothing.
    assert all("partition" not in (bed.sts("one", g).get("spec", {}).get("updateStrategy", {})
                                   .get("rollingUpdate") or {}) or
               bed.sts("one", g)["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 0
               for g in ("controller", "server-hot-a"))
    print(f"upgrade of 9 pods: {seconds}s (ready delays 9 x 1s)")


def test_gate_failure_stops_then_rerun_resumes(bed):
    pinot = bed.pinot
    before = {n: p["metadata"]["uid"] for n, p in bed.pods("one").items()}
    demo.set_image(bed.inv, "one", "apachepinot/pinot:1.5.2")
    stopped = threading.Event()

    def stop_server_in_server_phase():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            sts = bed.sts("one", "server-hot-a")
            if sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith("1.5.2"):
                pinot.stop_component("server-0", kill=True)
                stopped.set()
                return
            time.sleep(0.5)

    watcher = threading.Thread(target=stop_server_in_server_phase, daemon=True)
    watcher.start()
    try:
        rc, out, _err = bed.play("upgrade.yml", "--limit", "one")
        watcher.join(5)
        assert stopped.is_set()
        assert rc != 0
        assert "Upgrade stopped at node group server-hot-a, step server-hot-a 2/2" in out, out[-3000:]
        stop_line = next(line for line in out.splitlines() if line.startswith("fatal:"))
        # Killed hard, the server's Helix session lingers for a while: its own /health fails first.
        assert re.search(r"pod\(s\) pinot-server-hot-a-0, gate 'server (live|health)'", stop_line), stop_line
        failed = bed.pods("one")
        for name in ("pinot-server-hot-b-0", "pinot-server-hot-b-1", "pinot-minion-0"):
            assert failed[name]["metadata"]["uid"] == before[name], f"{name} was touched after the failed gate"
            assert _image(failed[name]).endswith("1.5.1")
        assert bed.sts("one", "server-hot-b")["spec"]["template"]["spec"]["containers"][0]["image"].endswith("1.5.1")
        assert _image(failed["pinot-server-hot-a-0"]).endswith("1.5.2")
    finally:
        if not pinot.is_running("server-0"):
            pinot.start_component("server-0")
    rc, out, _err = bed.play("upgrade.yml", "--limit", "one")
    assert rc == 0, out[-3000:]
    after = bed.pods("one")
    for name in ("pinot-controller-0", "pinot-controller-1", "pinot-broker-a-0", "pinot-broker-b-0",
                 "pinot-server-hot-a-0", "pinot-server-hot-a-1"):
        assert after[name]["metadata"]["uid"] == failed[name]["metadata"]["uid"], f"{name} restarted on resume"
    for name in ("pinot-server-hot-b-0", "pinot-server-hot-b-1", "pinot-minion-0"):
        assert after[name]["metadata"]["uid"] != before[name]
    assert {_image(p) for p in after.values()} == {"apachepinot/pinot:1.5.2"}


def test_interrupted_upgrade_resumes(bed):
    start = bed.pods("one")
    demo.set_image(bed.inv, "one", "apachepinot/pinot:1.5.3")
    proc = subprocess.Popen([demo.ANSIBLE_PLAYBOOK, "-i", str(bed.inv), str(demo.PLAYBOOKS / "upgrade.yml"),
                             "--limit", "one"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(demo.REPO / "collections")))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        broker = bed.pods("one").get("pinot-broker-a-0")  # absent while it is being recreated
        if broker and _image(broker).endswith("1.5.3"):
            break
        time.sleep(0.5)
    proc.kill()
    proc.wait()
    mid = bed.pods("one")
    assert _image(mid["pinot-controller-0"]).endswith("1.5.3")
    assert mid["pinot-server-hot-b-0"]["metadata"]["uid"] == start["pinot-server-hot-b-0"]["metadata"]["uid"]
    rc, out, _err = bed.play("upgrade.yml", "--limit", "one")
    assert rc == 0, out[-3000:]
    after = bed.pods("one")
    assert after["pinot-controller-0"]["metadata"]["uid"] == mid["pinot-controller-0"]["metadata"]["uid"]
    assert {_image(p) for p in after.values()} == {"apachepinot/pinot:1.5.3"}


def test_reconcile_check_is_a_drift_report(bed):
    path = f"/apis/apps/v1/namespaces/{bed.ns['two']}/statefulsets/pinot-broker-b"
    bed.cp.request("PATCH", path, {"spec": {"replicas": 2}}, content_type="application/merge-patch+json")
    rc, out, _err = bed.play("reconcile.yml", "--check", "--diff")
    assert rc == 0, out[-3000:]
    summary = demo.recap(out)
    assert summary["two"]["changed"] > 0 and summary["one"]["changed"] == 0
    assert '-        "replicas": 2,' in out and '+        "replicas": 1,' in out, out[-3000:]
    assert bed.sts("two", "broker-b")["spec"]["replicas"] == 2, "check mode wrote"
    rc, out, _err = bed.play("reconcile.yml")
    assert rc == 0, out[-3000:]
    assert bed.sts("two", "broker-b")["spec"]["replicas"] == 1


def test_order_override_breaking_the_version_invariant_is_refused(bed):
    before = {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()}
    demo.set_image(bed.inv, "two", "apachepinot/pinot:1.6.0")
    try:
        wrong_order = '{"pinot_upgrade_order": ["broker", "controller", "server", "minion"]}'
        rc, out, _err = bed.play("upgrade.yml", "--limit", "two", "-e", wrong_order)
        assert rc != 0
        assert "would leave broker group broker-a (1.6.0) newer than controller group controller" in \
            " ".join(out.split()), out[-3000:]
        assert {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()} == before
        assert _image(next(iter(bed.pods("two").values()))).endswith("1.4.0")
    finally:
        demo.set_image(bed.inv, "two", "apachepinot/pinot:1.4.0")
