"""Roles and playbooks end to end: install, ordered gated upgrade, gate failure and resume, drift report, and the
upgrade faults of issue 7 through roles/pinot_upgrade (SIGKILL, a pod that never becomes Ready, an apiserver
restart), batches and pauses.

ansible-playbook runs site.yml / upgrade.yml / reconcile.yml from the collection against an inventory of two
Pinot clusters (two namespaces) on the real control plane. Every pod's Pinot gate points at one of the test
bed's real Pinot processes (kwok pods run no containers). Assertions read the real pods from the apiserver;
"restarted" is counted from pod uids (PodHistory). Tests share state and run in file order.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.polling import wait_until
from tests.support.rollout import instance_map, small_description
from tests.support.tables import produce_rows, realtime_table, row_counts
from tests.testbed import plays
from tests.testbed.k8s import ANN_HOLD_READY

pytestmark = pytest.mark.integration

ROLE_ORDER = ["controller", "broker", "server", "minion"]
# The line pinot_cluster_rollout prints for each pod of an upgrade step.
POD_LINE = re.compile(r"^\[(?P<host>[^\]]+)\] (?P<label>\S+ \d+/\d+) (?P<pod>\S+): (?P<what>[^;]+); Pinot gate passed "
                      r"after [\d.]+ s \((?P<checks>[^)]*)\)$", re.M)


def write_inventory(directory, clusters, pinot, kubeconfig, extra):
    """One inventory host per cluster, each carrying its description and connection settings."""
    (directory / "host_vars").mkdir(parents=True, exist_ok=True)
    hosts = {"pinot_clusters": {"hosts": {h: None for h in clusters}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    for host, desc in clusters.items():
        prefix = host.replace("-", "_")
        schema = {"schemaName": f"{prefix}_events",
                  "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"}],
                  "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG"}],
                  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                          "granularity": "1:MILLISECONDS"}]}
        table = {"tableName": f"{prefix}_events", "tableType": "OFFLINE",
                 "segmentsConfig": {"schemaName": f"{prefix}_events", "timeColumnName": "ts", "replication": "2"},
                 "tenants": {"broker": "DefaultTenant", "server": "DefaultTenant"},
                 "tableIndexConfig": {"loadMode": "MMAP"}, "metadata": {}}
        hv = {"pinot_kubeconfig": kubeconfig, "pinot_controller_url": pinot.controller_url, "pinot_cluster": desc,
              "pinot_instance_map": instance_map(desc, pinot),
              "pinot_upgrade_rollout_timeout": 180, "pinot_cluster_wait_timeout": 180,
              "pinot_cluster_schemas": [schema], "pinot_cluster_tables": [table],
              "pinot_cluster_tenants": [{"name": "DefaultTenant", "role": "BROKER", "instance_count": 1}],
              **extra}
        (directory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(hv, sort_keys=False))


class Bed:
    def __init__(self, cp, pinot, tmp):
        self.cp, self.pinot = cp, pinot
        suffix = secrets.token_hex(3)
        self.ns = {"one": f"roles-one-{suffix}", "two": f"roles-two-{suffix}"}
        for ns in self.ns.values():
            plays.ensure_namespace(cp, ns)
        self.inv = tmp / "inventory"
        clusters = {h: small_description("pinot", ns) for h, ns in self.ns.items()}
        # kwok pods restart no Pinot process and several pods share one real instance: the check before each
        # restart runs and only warns here (test_real_node_pinot.py enforces it on real pods).
        write_inventory(self.inv, clusters, pinot, str(cp.kubeconfig), extra={
            "pinot_upgrade_gate_timeouts": {"cluster": 30, "controller": 30, "broker": 30, "server": 12,
                                            "minion": 30},
            "pinot_upgrade_accept_unavailable": ["controller", "broker", "server"],
            "pinot_upgrade_restart_check_timeout": 0})
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
        return plays.run_playbook(playbook, self.inv, *args)

    def pods(self, host):
        return {p["metadata"]["name"]: p for p in plays.pods(self.cp, self.ns[host])}

    def sts(self, host, group):
        return self.cp.request("GET", f"/apis/apps/v1/namespaces/{self.ns[host]}/statefulsets/pinot-{group}")

    def objects(self, host):
        """(kind, name) of every object pinotops manages for the cluster, sorted."""
        found = []
        for kind, path in (("StatefulSet", "/apis/apps/v1/namespaces/{}/statefulsets"),
                           ("Service", "/api/v1/namespaces/{}/services"),
                           ("ConfigMap", "/api/v1/namespaces/{}/configmaps"),
                           ("PodDisruptionBudget", "/apis/policy/v1/namespaces/{}/poddisruptionbudgets")):
            selector = "?labelSelector=app.kubernetes.io/instance=pinot"
            items = self.cp.request("GET", path.format(self.ns[host]) + selector)
            found += [(kind, item["metadata"]["name"]) for item in items["items"]]
        return sorted(found)

    def events(self, host):
        """The Events pinotops recorded in the cluster's namespace, oldest first."""
        items = self.cp.request("GET", f"/api/v1/namespaces/{self.ns[host]}/events")["items"]
        return sorted((e for e in items if (e.get("source") or {}).get("component") == "pinotops.k8s"),
                      key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))


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
    summary = plays.recap(out)
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
    # One Event per object the install created, on the object; the no-op rerun records none.
    created = [e for e in bed.events("one") if e["reason"] == "Created"]
    assert sorted((e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in created) == bed.objects("one")
    assert all(e["involvedObject"]["uid"] and e["message"] == "Created by pinotops.k8s" for e in created)
    recorded = {h: len(bed.events(h)) for h in bed.ns}
    rc, out, _err = bed.play("site.yml")
    assert rc == 0, out[-3000:]
    assert {h: s["changed"] for h, s in plays.recap(out).items()} == {"one": 0, "two": 0}
    assert {h: len(bed.events(h)) for h in bed.ns} == recorded
    print(f"install of two clusters: {seconds}s")


def test_upgrade_is_ordered_serial_and_gated(bed):
    before = bed.pods("one")
    untouched = {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()}
    plays.set_image(bed.inv, "one", "apachepinot/pinot:1.5.1")
    arrived = {}  # pod -> when its line reached the play's output

    def note(line):
        found = POD_LINE.match(line)
        if found:
            arrived[found["pod"]] = time.time()

    with plays.RestartClock(lambda: bed.pods("one")) as clock:
        rc, out, seconds = plays.run_playbook("upgrade.yml", bed.inv, "--limit", "one", echo=note)
    assert rc == 0, out[-3000:]
    lines = [m.groupdict() for m in POD_LINE.finditer(out)]
    assert [(m["label"], m["pod"]) for m in lines] == [
        ("controller 1/2", "pinot-controller-1"), ("controller 2/2", "pinot-controller-0"),
        ("broker-a 1/1", "pinot-broker-a-0"), ("broker-b 1/1", "pinot-broker-b-0"),
        ("server-hot-a 1/2", "pinot-server-hot-a-1"), ("server-hot-a 2/2", "pinot-server-hot-a-0"),
        ("server-hot-b 1/2", "pinot-server-hot-b-1"), ("server-hot-b 2/2", "pinot-server-hot-b-0"),
        ("minion 1/1", "pinot-minion-0")]
    assert all(m["host"] == "one" and "restarted, Ready after" in m["what"] for m in lines)
    assert "segments" in next(m["checks"] for m in lines if m["pod"] == "pinot-server-hot-b-0")
    # Both controller pods are the test bed's one real controller: not safe, restarted anyway as accepted.
    flat = " ".join(out.split())
    assert "Pinot gate 'restart_safe' failed for controller controller 1/2" in flat, out[-3000:]
    assert "is the only live controller" in flat and "(not enforced)" in flat
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
    # Printed as it happens: each pod's line is out before the next pod exists (timestamps in whole seconds).
    for prev, nxt in zip(expected, expected[1:], strict=False):
        assert arrived[prev] < _ts(pods[nxt]["metadata"]["creationTimestamp"]).timestamp() + 1, (prev, nxt)
    assert {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()} == untouched
    # Events name what was done: the new template on each StatefulSet, each pod rolled (on the new pod).
    events = bed.events("one")
    updated = [e for e in events if e["reason"] == "Updated" and e["involvedObject"]["kind"] == "StatefulSet"
               and "spec.template.spec.containers.pinot.image" in e["message"]]
    assert {e["involvedObject"]["name"] for e in updated} == {f"pinot-{g}" for g in (
        "controller", "broker-a", "broker-b", "server-hot-a", "server-hot-b", "minion")}, updated
    rolled = {e["involvedObject"]["name"]: e for e in events if e["reason"] == "Rolled"}
    assert sorted(rolled) == sorted(pods), rolled
    assert all(rolled[n]["involvedObject"]["uid"] == pods[n]["metadata"]["uid"] for n in pods)
    assert "StatefulSet/pinot-server-hot-a" in rolled["pinot-server-hot-a-0"]["message"]
    # The partition is released at the end: a reconcile of the same description changes nothing.
    assert all("partition" not in (bed.sts("one", g).get("spec", {}).get("updateStrategy", {})
                                   .get("rollingUpdate") or {}) or
               bed.sts("one", g)["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 0
               for g in ("controller", "server-hot-a"))
    floor = sum(clock.seconds().values())
    print(f"upgrade of 9 pods: {seconds:.1f}s; the pods' own restart-to-ready {floor:.1f}s (ready delay 1s); "
          f"{(seconds - floor) / 9:.2f}s per pod over it")


def test_gate_failure_stops_then_rerun_resumes(bed):
    pinot = bed.pinot
    before = {n: p["metadata"]["uid"] for n, p in bed.pods("one").items()}
    plays.set_image(bed.inv, "one", "apachepinot/pinot:1.5.2")
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
        # The gate that stopped the upgrade, as a Warning on the pod it was about.
        (stop,) = [e for e in bed.events("one") if e["reason"] == "UpgradeStopped"]
        assert stop["type"] == "Warning" and stop["involvedObject"]["name"] == "pinot-server-hot-a-0"
        assert stop["involvedObject"]["uid"] == failed["pinot-server-hot-a-0"]["metadata"]["uid"]
        assert re.search(r"^Upgrade stopped by gate 'server (live|health)': ", stop["message"]), stop["message"]
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


def start_upgrade(bed, host, keep_output=False):
    """upgrade.yml in the background; its output (stdout and stderr) on proc.stdout when kept."""
    stdout = subprocess.PIPE if keep_output else subprocess.DEVNULL
    return subprocess.Popen([plays.ANSIBLE_PLAYBOOK, "-i", str(bed.inv), str(plays.PLAYBOOKS / "upgrade.yml"),
                             "--limit", host], stdout=stdout, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(plays.REPO / "collections")))


def wait_for_pod_image(bed, host, pod, tag, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = bed.pods(host).get(pod)  # absent while it is being recreated
        if found and _image(found).endswith(tag):
            return
        time.sleep(0.5)
    pytest.fail(f"{pod} never ran {tag}")


def test_interrupted_upgrade_resumes(bed):
    start = bed.pods("one")
    plays.set_image(bed.inv, "one", "apachepinot/pinot:1.5.3")
    with plays.PodHistory(lambda: bed.pods("one")) as history:
        proc = start_upgrade(bed, "one")
        wait_for_pod_image(bed, "one", "pinot-broker-a-0", "1.5.3")
        proc.kill()  # SIGKILL
        proc.wait()
        mid = bed.pods("one")
        assert _image(mid["pinot-controller-0"]).endswith("1.5.3")
        assert mid["pinot-server-hot-b-0"]["metadata"]["uid"] == start["pinot-server-hot-b-0"]["metadata"]["uid"]
        rc, out, _err = bed.play("upgrade.yml", "--limit", "one")
    assert rc == 0, out[-3000:]
    after = bed.pods("one")
    assert {_image(p) for p in after.values()} == {"apachepinot/pinot:1.5.3"}
    # Across the killed run and the rerun, every pod was replaced exactly once.
    twice = [name for name, count in history.replacements().items() if count != 1]
    assert not twice, ({name: history.story(name) for name in twice}, statefulset_events(bed, "one"))


def statefulset_events(bed, host):
    """What the StatefulSet controller did to pods, in order (which of it deleted or recreated a pod)."""
    events = bed.cp.request("GET", f"/api/v1/namespaces/{bed.ns[host]}/events")["items"]
    kinds = ("SuccessfulCreate", "SuccessfulDelete", "RecreatingFailedPod", "RecreatingTerminatedPod", "FailedCreate")
    return [f"{e.get('lastTimestamp') or e.get('eventTime')} {e['involvedObject']['name']} {e['reason']}: "
            f"{(e.get('message') or '')[:140]}"
            for e in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
            if e["involvedObject"]["kind"] == "StatefulSet" and e["reason"] in kinds]


def test_reconcile_check_is_a_drift_report(bed):
    path = f"/apis/apps/v1/namespaces/{bed.ns['two']}/statefulsets/pinot-broker-b"
    bed.cp.request("PATCH", path, {"spec": {"replicas": 2}}, content_type="application/merge-patch+json")
    rc, out, _err = bed.play("reconcile.yml", "--check", "--diff")
    assert rc == 0, out[-3000:]
    summary = plays.recap(out)
    assert summary["two"]["changed"] > 0 and summary["one"]["changed"] == 0
    assert "\n-  replicas: 2\n" in out and "\n+  replicas: 1\n" in out, out[-3000:]
    assert bed.sts("two", "broker-b")["spec"]["replicas"] == 2, "check mode wrote"
    rc, out, _err = bed.play("reconcile.yml")
    assert rc == 0, out[-3000:]
    assert bed.sts("two", "broker-b")["spec"]["replicas"] == 1


def test_preflight_refuses_a_wrong_order_or_an_unknown_table_to_pause(bed):
    before = {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()}
    plays.set_image(bed.inv, "two", "apachepinot/pinot:1.6.0")
    try:
        wrong_order = '{"pinot_upgrade_order": ["broker", "controller", "server", "minion"]}'
        rc, out, _err = bed.play("upgrade.yml", "--limit", "two", "-e", wrong_order)
        assert rc != 0
        assert "would leave broker group broker-a (1.6.0) newer than controller group controller" in \
            " ".join(out.split()), out[-3000:]
        assert {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()} == before
        assert _image(next(iter(bed.pods("two").values()))).endswith("1.4.0")
        # A table to pause that is not a REALTIME table: refused by the pre-flight, before any pause or restart.
        rc, out, _err = bed.play("upgrade.yml", "--limit", "two", "-e", '{"pinot_upgrade_paused_tables": ["nope"]}')
        assert rc != 0
        assert "no REALTIME table named 'nope'" in out, out[-3000:]
        assert '"field": "paused_tables[0]"' in out
        assert {n: p["metadata"]["uid"] for n, p in bed.pods("two").items()} == before
    finally:
        plays.set_image(bed.inv, "two", "apachepinot/pinot:1.4.0")


class PauseFlagSamples:
    """The table's pause flag, sampled every 0.25 s while the `with` block runs: (epoch seconds, paused)."""

    def __init__(self, pinot, table):
        self.url = f"{pinot.controller_url}/tables/{table}/pauseStatus"
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _poll(self):
        while not self._stop.wait(0.25):
            with contextlib.suppress(requests.RequestException):
                found = requests.get(self.url, timeout=5)
                if found.ok:
                    self.samples.append((time.time(), found.json()["pauseFlag"]))

    def paused_span(self):
        paused = [at for at, flag in self.samples if flag]
        return (min(paused), max(paused)) if paused else None


def test_batch_pause_between_pods_and_paused_consumption(bed):
    """server-hot-a in one step of two pods; a pause after every step. Kubernetes still replaces the batch's pods
    one after another (maxUnavailable 1): a batch shares one step (gates, pause), never two pods down at once.
    A REALTIME table listed in pinot_upgrade_paused_tables is paused before the first pod goes and consumes
    again after the last one is back."""
    plays.set_image(bed.inv, "two", "apachepinot/pinot:1.5.1")
    with realtime_table(bed.pinot, "upgrade_rt_") as table:
        produce_rows(bed.pinot, table, [f"r{i}" for i in range(5)])
        wait_until("5 rows", lambda: row_counts(bed.pinot, table) == (5, 5), timeout=120)
        options = json.dumps({"pinot_upgrade_group_batch_size": {"server-hot-a": 2},
                              "pinot_upgrade_pause_between_pods": 3, "pinot_upgrade_paused_tables": [table]})
        with plays.PodHistory(lambda: bed.pods("two")) as history, PauseFlagSamples(bed.pinot, table) as flag:
            rc, out, seconds = bed.play("upgrade.yml", "--limit", "two", "-e", options)
        assert rc == 0, out[-3000:]
        produce_rows(bed.pinot, table, ["r5"])
        wait_until("6 rows", lambda: row_counts(bed.pinot, table) == (6, 6), timeout=120)
    steps = [(m["label"], m["pod"]) for m in POD_LINE.finditer(out)]
    assert {("server-hot-a 1/1", "pinot-server-hot-a-1"), ("server-hot-a 1/1", "pinot-server-hot-a-0")} <= set(steps)
    assert "server-hot-a 2/2" not in out and ("server-hot-b 2/2", "pinot-server-hot-b-0") in steps
    assert len({label for label, _pod in steps}) == 8  # 9 pods in 8 steps
    assert history.replacements() == {name: 1 for name in history.uids}
    pods = bed.pods("two")
    assert {_image(p) for p in pods.values()} == {"apachepinot/pinot:1.5.1"}
    ordered = sorted(pods.values(), key=lambda p: (_ts(p["metadata"]["creationTimestamp"]), _ready_at(p)))
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        names = (prev["metadata"]["name"], nxt["metadata"]["name"])
        gap = (_ts(nxt["metadata"]["creationTimestamp"]) - _ready_at(prev)).total_seconds()
        # Between steps the gate and the 3 s pause (timestamps have 1 s resolution); the two pods of
        # server-hot-a's one step are asserted together above, from the step lines.
        if names != ("pinot-server-hot-a-1", "pinot-server-hot-a-0"):
            assert gap >= 2, (names, gap)
    # Paused once (before the first group), resumed once (after the last); every pod went and came back inside.
    assert out.count(f"[two] {table}: consumption paused") == out.count(f"[two] {table}: consumption resumed") == 1
    span = flag.paused_span()
    assert span is not None, flag.samples
    first_gone = min([_ts(at).timestamp() for at in history.deleted_at.values()] +
                     [_ts(p["metadata"]["creationTimestamp"]).timestamp() for p in pods.values()])
    last_ready = max(_ready_at(p).timestamp() for p in pods.values())
    assert span[0] <= first_gone and span[1] >= last_ready - 1, (span, first_gone, last_ready)
    assert flag.samples[-1][1] is False
    print(f"upgrade of 9 pods in 8 steps with 3 s pauses and one paused table: {seconds}s")


def test_pod_never_ready_stops_the_upgrade_at_that_pod(bed):
    """server-hot-b's new pods never become Ready (the test bed holds them): the play stops at its first pod after
    the rollout timeout, names it, and touches nothing after it. Recovery as docs/upgrades.md describes."""
    before = bed.pods("two")
    hv = bed.host_vars("two")
    hv["pinot_cluster"]["image"] = "apachepinot/pinot:1.5.4"
    hv["pinot_cluster"]["profiles"]["held"] = {"pod_annotations": {ANN_HOLD_READY: "true"}}
    stuck = next(g for g in hv["pinot_cluster"]["node_groups"] if g["name"] == "server-hot-b")
    stuck["profile"] = "held"
    bed.save_host_vars("two", hv)
    with plays.PodHistory(lambda: bed.pods("two")) as history:
        rc, out, _seconds = bed.play("upgrade.yml", "--limit", "two", "-e", "pinot_upgrade_rollout_timeout=20")
        assert rc != 0
        stop_line = " ".join(next(line for line in out.splitlines() if "Upgrade stopped" in line).split())
        assert "Upgrade stopped at node group server-hot-b, step server-hot-b 1/2, pod(s) pinot-server-hot-b-1, " \
               "gate 'kubernetes rollout': rollout not complete after 20s" in stop_line, stop_line
        assert "pinot-server-hot-b-1" in stop_line.split("rollout not complete", 1)[1], stop_line
        assert "not Ready" in stop_line, stop_line
        assert "apply it to server-hot-b at partition 1, delete the pod, then rerun" in stop_line, stop_line
        failed = bed.pods("two")
        for name in ("pinot-server-hot-b-0", "pinot-minion-0"):  # after the stuck pod: untouched
            assert failed[name]["metadata"]["uid"] == before[name]["metadata"]["uid"], name
        assert bed.sts("two", "minion")["spec"]["template"]["spec"]["containers"][0]["image"].endswith("1.5.1")
        assert _image(failed["pinot-server-hot-a-0"]).endswith("1.5.4")

        # Recovery: fix the description, put the fixed template on the stuck group at its current partition,
        # delete the stuck pod (Kubernetes does not replace an un-Ready pod of an OrderedReady StatefulSet), rerun.
        stuck["profile"] = "p"
        bed.save_host_vars("two", hv)
        fixed = subprocess.run(
            [str(Path(plays.ANSIBLE_PLAYBOOK).with_name("ansible")), "two", "-i", str(bed.inv),
             "-m", "pinotops.k8s.pinot_cluster", "-a", json.dumps({
                 "cluster": "{{ pinot_cluster }}", "kubeconfig": "{{ pinot_kubeconfig }}",
                 "node_groups": ["server-hot-b"], "partitions": {"server-hot-b": 1}})],
            capture_output=True, text=True, timeout=300, check=False,
            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(plays.REPO / "collections")))
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        bed.cp.request("DELETE", f"/api/v1/namespaces/{bed.ns['two']}/pods/pinot-server-hot-b-1")
        rc, out, _seconds = bed.play("upgrade.yml", "--limit", "two")
    assert rc == 0, out[-3000:]
    assert {_image(p) for p in bed.pods("two").values()} == {"apachepinot/pinot:1.5.4"}
    # Replaced once each; the stuck pod twice (held, then the fix). Nothing upgraded before it restarted again.
    expected = {name: 1 for name in before}
    expected["pinot-server-hot-b-1"] = 2
    assert history.replacements() == expected, history.uids


def test_apiserver_restart_during_an_upgrade_then_rerun_resumes(bed):
    """kube-apiserver stopped for 15 s while the server phase runs: the play rides it out or stops with a clear
    message; a rerun completes; no pod is replaced twice."""
    start = bed.pods("two")
    plays.set_image(bed.inv, "two", "apachepinot/pinot:1.5.5")
    with plays.PodHistory(lambda: bed.pods("two")) as history:
        proc = start_upgrade(bed, "two", keep_output=True)
        output = []
        reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
        reader.start()
        wait_for_pod_image(bed, "two", "pinot-server-hot-a-1", "1.5.5")
        try:
            outage = bed.cp.restart_apiserver(15)
        except Exception:
            proc.kill()
            raise
        rc = proc.wait(timeout=900)
        reader.join(10)
        out = "".join(output)
        assert "Traceback" not in out, out[-3000:]
        if rc != 0:  # a clear stop naming the apiserver
            stops = [line for line in out.splitlines() if line.startswith("fatal:")]
            assert stops and all("apiserver" in line or "HTTP 5" in line for line in stops), stops
        rerun_rc, rerun_out, _seconds = bed.play("upgrade.yml", "--limit", "two")
    assert rerun_rc == 0, rerun_out[-3000:]
    assert {_image(p) for p in bed.pods("two").values()} == {"apachepinot/pinot:1.5.5"}
    assert history.replacements() == {name: 1 for name in start}, history.uids
    print(f"apiserver down {outage:.1f}s during the server phase: first run rc={rc}")


def _partition(sts):
    return ((sts["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0)


def _config(sts):
    return next(v["configMap"]["name"] for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")


def test_a_changed_pinot_property_is_rolled_pod_by_pod_checked_and_gated_or_held(bed):
    """reconcile.yml on a running cluster whose description changes a Pinot property of broker-a and server-hot-b:
    --check predicts the restarts and writes nothing; the run rolls exactly those pods through
    pinot_cluster_rollout, each checked before it goes and gated after, a line each. Then a change of server-hot-a
    with pinot_cluster_template_changes=hold: its template is written held, no pod restarts, the run fails naming
    it, and again on a rerun that writes nothing; upgrade.yml rolls it."""
    hv = bed.host_vars("one")
    changed = {"broker-a": ("pinot.broker.timeoutMs", 15000),
               "server-hot-b": ("pinot.server.query.executor.timeout", 25000)}
    for group in hv["pinot_cluster"]["node_groups"]:
        if group["name"] in changed:
            key, value = changed[group["name"]]
            group.setdefault("pinot", {}).setdefault("properties", {})[key] = value
    bed.save_host_vars("one", hv)
    configs = {g: _config(bed.sts("one", g)) for g in changed}
    with plays.PodHistory(lambda: bed.pods("one")) as history:
        rc, out, _seconds = bed.play("reconcile.yml", "--limit", "one", "--check", "--diff")
        assert rc == 0, out[-3000:]
        flat = " ".join(out.split())
        assert "[one] broker-a: would restart pinot-broker-a-0; changes ConfigMap/pinot-broker-a-config" in flat, \
            out[-3000:]
        assert "[one] server-hot-b: would restart pinot-server-hot-b-1, pinot-server-hot-b-0; changes ConfigMap/" \
               "pinot-server-hot-b-config" in flat
        assert "server-hot-a: would restart" not in flat and not POD_LINE.search(out)
        assert {g: _config(bed.sts("one", g)) for g in changed} == configs, "check mode wrote"
        assert all(count == 0 for count in history.replacements().values())

        rc, out, _seconds = bed.play("reconcile.yml", "--limit", "one")
    assert rc == 0, out[-3000:]
    lines = [m.groupdict() for m in POD_LINE.finditer(out)]
    assert [(m["label"], m["pod"]) for m in lines] == [
        ("broker-a 1/1", "pinot-broker-a-0"), ("server-hot-b 1/2", "pinot-server-hot-b-1"),
        ("server-hot-b 2/2", "pinot-server-hot-b-0")]
    # Checked before (the kwok pods share real instances: the check warns here, accepted), Ready, then gated.
    assert all(re.fullmatch(r"(safe to restart|unsafe, accepted), restarted, Ready after [\d.]+ s", m["what"])
               for m in lines), lines
    assert "segments" in next(m["checks"] for m in lines if m["pod"] == "pinot-server-hot-b-0")
    restarted = {"pinot-broker-a-0", "pinot-server-hot-b-1", "pinot-server-hot-b-0"}
    assert history.replacements() == {n: int(n in restarted) for n in history.uids}, history.uids
    for group in changed:
        sts = bed.sts("one", group)
        assert _config(sts) != configs[group] and _partition(sts) == 0
    rc, out, _seconds = bed.play("reconcile.yml", "--limit", "one")
    assert rc == 0 and plays.recap(out)["one"]["changed"] == 0, out[-3000:]

    # Held: the new template is written at a partition that keeps every pod on its revision.
    for group in hv["pinot_cluster"]["node_groups"]:
        if group["name"] == "server-hot-a":
            group.setdefault("pinot", {}).setdefault("properties", {})["pinot.server.query.executor.timeout"] = 25000
    bed.save_host_vars("one", hv)
    before = _config(bed.sts("one", "server-hot-a"))
    hold = ("-e", "pinot_cluster_template_changes=hold")
    with plays.PodHistory(lambda: bed.pods("one")) as history:
        rc, out, _seconds = bed.play("reconcile.yml", "--limit", "one", *hold)
        assert rc != 0
        flat = " ".join(out.split())
        assert "pinot_cluster_template_changes is hold: the pod template of node group(s) server-hot-a changed, so " \
               "pinot-server-hot-a-1, pinot-server-hot-a-0 would restart." in flat, out[-3000:]
        assert "playbooks/upgrade.yml" in flat and not POD_LINE.search(out)
        sts = bed.sts("one", "server-hot-a")
        assert _config(sts) != before and _partition(sts) == 2
        rc, out, _seconds = bed.play("reconcile.yml", "--limit", "one", *hold)
        assert rc != 0 and plays.recap(out)["one"]["changed"] == 0, out[-3000:]
        assert all(count == 0 for count in history.replacements().values()), history.uids

        rc, out, _seconds = bed.play("upgrade.yml", "--limit", "one")
    assert rc == 0, out[-3000:]
    assert [(m["label"], m["pod"]) for m in POD_LINE.finditer(out) if "restarted" in m["what"]] == [
        ("server-hot-a 1/2", "pinot-server-hot-a-1"), ("server-hot-a 2/2", "pinot-server-hot-a-0")]
    assert history.replacements() == {n: int(n.startswith("pinot-server-hot-a-")) for n in history.uids}
    assert _partition(bed.sts("one", "server-hot-a")) == 0
