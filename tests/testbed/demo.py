"""`make demo`: the whole story on real pods.

A control plane of its own with the test bed's real node (kubelet + containerd), the images of Pinot 1.4.0 and
1.5.1, and a Kafka broker the pods reach (tests/testbed/real_cluster.py). Then: install Pinot 1.4.0 with
site.yml, rows in (batch and Kafka) and queries through the broker Service, the idempotent rerun, a drift
report of hand edits (reconcile.yml --check --diff) and the reconcile that undoes them, the ordered upgrade to
1.5.1 pod by pod with a query after every step, and the version every instance reports at the end. Everything
is torn down at the end (the real node leaves nothing behind).
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from tests.support.polling import wait_until
from tests.testbed import plays
from tests.testbed.load import Expected, QueryLoad
from tests.testbed.real_cluster import (
    FROM_VERSION,
    HOST,
    OFFLINE,
    REALTIME,
    TO_VERSION,
    RealCluster,
    ready_at,
    real_cluster_bed,
    timestamp,
)

NAMESPACE = "pinot-demo"
WORKDIR = plays.REPO / ".testbed" / "demo"
ROWS = [("r1", "paris", 12), ("r2", "paris", 30), ("r3", "lyon", 7), ("r4", "nice", 51), ("r5", "lyon", 3)]
MESSAGES = 20
PAUSE = 3  # seconds between upgrade steps, while the demo queries the broker


class MemoryPeak(threading.Thread):
    """The machine's memory taken since the start (MemAvailable), sampled every second: the whole test bed."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.baseline = self.available()
        self.peak = 0
        self.done = threading.Event()

    @staticmethod
    def available() -> int:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no MemAvailable in /proc/meminfo")

    def run(self) -> None:
        while not self.done.wait(1):
            self.peak = max(self.peak, self.baseline - self.available())


def counts(cluster: RealCluster) -> str:
    began = time.monotonic()
    try:
        rides = cluster.sql(f"SELECT COUNT(*), SUM(fare) FROM {OFFLINE}")[0]
        clicks = cluster.sql(f"SELECT COUNT(*) FROM {REALTIME}")[0][0]
    except (requests.RequestException, AssertionError, ValueError) as exc:
        return f"query FAILED: {str(exc)[:200]}"
    return (f"{OFFLINE}: {rides[0]} rows, fare {rides[1]:g}; {REALTIME}: {clicks} rows "
            f"({(time.monotonic() - began) * 1000:.0f} ms through the broker Service)")


def show_tasks(line: str) -> None:
    name = plays.task_name(line)
    if name and not name.startswith(("Validating arguments", "Work out")):
        print(f"   {name}", flush=True)


def print_pods(cluster: RealCluster) -> None:
    for name, pod in sorted(cluster.pods().items(), key=lambda kv: kv[1]["metadata"]["creationTimestamp"]):
        created = timestamp(pod["metadata"]["creationTimestamp"])
        ready = ready_at(pod)
        took = f"Ready {(ready - created).total_seconds():.0f} s after creation" if ready else "not Ready"
        print(f"   {name:<22} {pod['spec']['containers'][0]['image']:<26} on {pod['spec']['nodeName']}, {took}")


def fail(what: str, output: str) -> int:
    print(output[-4000:])
    print(f"== demo stopped: {what}")
    return 1


def install(cluster: RealCluster) -> float | None:
    print(f"== 1. install Pinot {FROM_VERSION}: site.yml, role by role, each gated on Kubernetes and on Pinot")
    rc, out, seconds = cluster.play(echo=show_tasks)
    if rc:
        fail("install", out)
        return None
    print(f"   site.yml: {seconds} s, recap {plays.recap(out)[HOST]}")
    print_pods(cluster)
    reported = cluster.pinot_versions()
    print(f"   {len(reported)} Pinot instances report version {', '.join(sorted(set(reported.values())))}")
    return seconds


def ingest(cluster: RealCluster) -> None:
    print("== 2. rows in: a CSV batch through the controller, JSON messages through Kafka")
    cluster.ingest_csv(f"{OFFLINE}_OFFLINE", "id,city,fare", ROWS)
    now = int(time.time() * 1000)
    cluster.kafka.produce(cluster.topic, [json.dumps({"user": f"u{i}-{uuid.uuid4().hex[:4]}", "ts": now + i})
                                          for i in range(MESSAGES)])
    wait_until("the rows in both tables", lambda: cluster.sql(f"SELECT COUNT(*) FROM {OFFLINE}")[0][0] == len(ROWS)
               and cluster.sql(f"SELECT COUNT(*) FROM {REALTIME}")[0][0] == MESSAGES, timeout=180)
    print(f"   {counts(cluster)}")
    for city, fare in cluster.sql(f"SELECT city, SUM(fare) FROM {OFFLINE} GROUP BY city ORDER BY city"):
        print(f"   {city:<6} {fare:g}")


def drift(cluster: RealCluster) -> str | None:
    """Two hand edits: a server group's Pinot config in Kubernetes, a table's replication in Pinot."""
    print("== 4. drift: a hand edit of server-b's Pinot config (ConfigMap) and of the table's replication")
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps/{cluster.config_name('server-b')}"
    data = cluster.cp.request("GET", path)["data"]
    edited = {k: v.replace("pinot.server.query.executor.timeout=20000", "pinot.server.query.executor.timeout=5000")
              for k, v in data.items()}
    if edited == data:
        return "the server-b ConfigMap does not hold the expected property"
    cluster.cp.request("PATCH", path, {"data": edited}, content_type="application/merge-patch+json")
    table = cluster.controller("GET", f"/tables/{OFFLINE}").json()["OFFLINE"]
    table["segmentsConfig"]["replication"] = "1"
    cluster.controller("PUT", f"/tables/{OFFLINE}", json=table)

    rc, out, seconds = cluster.play("reconcile.yml", "--check", "--diff")
    if rc:
        return out[-4000:]
    # The changed lines of every diff, each once (the role's last task predicts the per-role changes again).
    shown = dict.fromkeys(ln.rstrip() for ln in out.splitlines()
                          if ln[:1] in "+-" and ln[:3] not in ("+++", "---") and ln[1:].strip())
    print(f"   reconcile.yml --check --diff: {seconds} s, {plays.recap(out)[HOST]['changed']} tasks would change, "
          "nothing written; the changed lines of its diffs:")
    for line in shown:
        print(f"     {line}")
    rc, out, seconds = cluster.play("reconcile.yml")
    if rc:
        return out[-4000:]
    print(f"   reconcile.yml: {seconds} s, recap {plays.recap(out)[HOST]}: both edits undone")
    return None


def upgrade(cluster: RealCluster) -> tuple[float, QueryLoad] | None:
    print(f"== 5. upgrade {FROM_VERSION} -> {TO_VERSION}: upgrade.yml, controller -> broker -> server -> minion, "
          "pod by pod, each gated on Kubernetes readiness and Pinot health")

    unanswered = []

    def step(line: str) -> None:
        """The rollout's line per pod as it comes, and a query once the pod's Pinot gate has passed."""
        prefix = f"[{HOST}] "
        if not line.startswith(prefix):
            return
        text = line[len(prefix):].rstrip()
        print(f"   {text}", flush=True)
        if "Pinot gate passed" in text:
            answer = counts(cluster)
            print(f"     query: {answer}", flush=True)
            if answer.startswith("query FAILED"):
                unanswered.append(text.split(":", 1)[0])

    plays.set_image(cluster.inventory, HOST, f"apachepinot/pinot:{TO_VERSION}")
    load = QueryLoad(cluster.service_url("broker"), [Expected(OFFLINE, len(ROWS)), Expected(REALTIME, MESSAGES)])
    load.start()
    # One controller: its restart is accepted (queries do not need it; table changes wait for it).
    extra = {"pinot_upgrade_pause_between_pods": PAUSE, "pinot_upgrade_accept_unavailable": ["controller"]}
    rc, out, seconds = cluster.play("upgrade.yml", "-e", json.dumps(extra), echo=step)
    load.stop()
    if rc:
        fail("upgrade", out)
        return None
    if unanswered:
        print(f"== demo stopped: no answer after {', '.join(unanswered)}")
        return None
    return seconds, load


def main() -> int:
    t0 = time.monotonic()
    memory = MemoryPeak()
    memory.start()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    print(f"== 0. the test bed: a control plane and the real node, images of Pinot {FROM_VERSION} and "
          f"{TO_VERSION}, Kafka ({WORKDIR})")
    with real_cluster_bed(WORKDIR, (FROM_VERSION, TO_VERSION), NAMESPACE) as cluster:
        print("   " + ", ".join(f"{k} {v:.1f} s" for k, v in cluster.timings.items()))
        install_s = install(cluster)
        if install_s is None:
            return 1
        # upgrade.yml has no pinot_cluster report to read the controller URL from: the Service's, now known.
        plays.set_host_vars(cluster.inventory, HOST, pinot_controller_url=cluster.service_url("controller"))
        ingest(cluster)

        print("== 3. second run: nothing to change")
        rc, out, again_s = cluster.play()
        if rc or plays.recap(out)[HOST]["changed"] != 0:
            return fail("the second run changed something", out)
        print(f"   site.yml: {again_s} s, recap {plays.recap(out)[HOST]}")

        problem = drift(cluster)
        if problem:
            return fail("drift report", problem)

        before = {name: pod["metadata"]["uid"] for name, pod in cluster.pods().items()}
        upgraded = upgrade(cluster)
        if upgraded is None:
            return 1
        upgrade_s, load = upgraded
        print(f"     query after the last step: {counts(cluster)}")
        summary = load.summary()
        print(f"   upgrade.yml: {upgrade_s} s; background queries during it (5/s, every count checked): "
              f"{summary['sent']} sent, {summary['failed']} failed, {summary['wrong']} wrong, "
              f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms")
        for answer in load.bad()[:5]:
            print(f"     {answer.table}: {answer.outcome}, {answer.detail}")

        print("== 6. versions: what every instance reports, and the pods")
        reported = cluster.pinot_versions()
        for instance, version in reported.items():
            print(f"   {instance:<84} {version}")
        own = cluster.controller("GET", "/version").json()
        print(f"   {'the controller, GET /version':<84} {', '.join(sorted(set(own.values())))}")
        after = cluster.pods()
        print_pods(cluster)
        kept = sorted(n for n, p in after.items() if p["metadata"]["uid"] == before.get(n))
        if kept != ["pinot-zookeeper-0"] or set(reported.values()) != {TO_VERSION}:
            print(f"== demo stopped: not every instance is on {TO_VERSION} (pods not replaced: {kept})")
            return 1

        memory.done.set()
        print("== summary")
        print(f"   install {install_s} s, idempotent rerun {again_s} s (changed=0), upgrade {upgrade_s} s; "
              f"whole test bed at most {memory.peak / 2**30:.2f} GiB of memory; total {time.monotonic() - t0:.0f} s")
        print("== tearing down the real node and the control plane")
    return 0


if __name__ == "__main__":
    sys.exit(main())
