"""`make bench`: pinotops.k8s against the hand-written kubernetes.core + uri playbook, on the local test bed.

    python -m tests.bench [--runs 3] [--ready-delay 5] [--attach ENV.json] [--no-doc]

Starts the test bed (real Pinot 1.5.1, a real Kubernetes control plane with kwok pods), puts a counting
proxy in front of the controller and of the apiserver, and runs:
  1. no-op reconcile of the estate (cluster of 6 node groups, 100 schemas, 100 OFFLINE tables, 4 tenants);
  2. first apply of the same estate;
  3. rolling upgrade of the 12-pod cluster, pod by pod, each pod Ready after a fixed delay, against the floor.
Prints a table and writes docs/performance.md. Everything started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import ansible
import kubernetes
import requests
import yaml

from tests.bench import estate
from tests.bench.proxy import CountingProxy
from tests.bench.report import write_doc
from tests.testbed.k8s import K8sControlPlane
from tests.testbed.pinot import PinotCluster

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PINOTOPS_TESTBED_CACHE", Path.home() / ".cache" / "pinotops-testbed")) / "bench"
PINOT_VERSION = "1.5.1"
ANSIBLE_PIN = "ansible>=12,<13"  # the package line matching ansible-core 2.19; kubernetes.core taken from it


# ----- kubernetes.core from the `ansible` package, in a cache of its own (never the project venv)

def ensure_kubernetes_core() -> tuple[Path, str]:
    root = CACHE / "collections"
    manifest = root / "ansible_collections" / "kubernetes" / "core" / "MANIFEST.json"
    if not manifest.exists():
        download = CACHE / "dl"
        download.mkdir(parents=True, exist_ok=True)
        if not list(download.glob("ansible-*.whl")):
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(download),
                            ANSIBLE_PIN], check=True)
        wheel = sorted(download.glob("ansible-*.whl"))[-1]
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith("ansible_collections/kubernetes/core/"):
                    archive.extract(name, root)
    version = json.loads(manifest.read_text())["collection_info"]["version"]
    return root, version


# ----- test bed

class Bed:
    """Pinot + Kubernetes, each behind a counting proxy."""

    def __init__(self, workdir: Path, attach: Path | None) -> None:
        self.workdir = workdir
        self.pinot = self.k8s = None
        if attach:
            env = json.loads(attach.read_text())
            self.controller_url, host, token, ca = env["controller"], env["host"], env["token"], env["ca"]
        else:
            self.k8s = K8sControlPlane(workdir / "k8s")
            self.k8s.start()
            self.pinot = PinotCluster(PINOT_VERSION, workdir / "pinot", servers=estate.TENANTS, minion=False).start()
            self.controller_url = self.pinot.controller_url
            host, token, ca = self.k8s.host, self.k8s.token, str(self.k8s.ca_file)
        self.host, self.token, self.ca = host, token, ca
        self.pinot_proxy = CountingProxy(self.controller_url).start()
        self.k8s_proxy = CountingProxy(host, ca_file=ca).start()
        self.kubeconfig = workdir / "bench-kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "bench", "cluster": {"server": self.k8s_proxy.url}}],
            "users": [{"name": "bench", "user": {"token": token}}],
            "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
        }))
        self.servers = sorted(i for i in self.pinot_get("/instances")["instances"] if i.startswith("Server_"))

    # Direct calls (not through the proxies): set-up between measured runs.
    def pinot_get(self, path: str) -> Any:
        return requests.get(self.controller_url + path, timeout=30).json()

    def reset_tenants(self) -> None:
        for server in self.servers:
            requests.put(f"{self.controller_url}/instances/{server}/updateTags",
                         params={"tags": "DefaultTenant_OFFLINE,DefaultTenant_REALTIME"}, timeout=30).raise_for_status()

    def k8s_request(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, self.host + path, json=body, verify=self.ca, timeout=30,
                                    headers={"Authorization": f"Bearer {self.token}"})
        if response.status_code not in (200, 201, 202, 404, 409):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def create_namespace(self, name: str) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.k8s_request("POST", "/api/v1/namespaces", namespace)

    def delete_namespace(self, name: str) -> None:
        self.k8s_request("DELETE", f"/api/v1/namespaces/{name}")

    def stop(self) -> None:
        self.pinot_proxy.stop()
        self.k8s_proxy.stop()
        if self.pinot:
            self.pinot.stop()
        if self.k8s:
            self.k8s.stop()


# ----- one playbook run

def run_playbook(bed: Bed, playbook: str, extra: dict[str, Any], collections: Path, log: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        vars_file = Path(tmp) / "vars.json"
        vars_file.write_text(json.dumps(extra))
        count_file = Path(tmp) / "count.json"
        env = dict(os.environ,
                   ANSIBLE_COLLECTIONS_PATH=f"{REPO / 'collections'}:{collections}",
                   ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="bench_count",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, BENCH_COUNT_FILE=str(count_file))
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                   str(HERE / "playbooks" / playbook), "-e", f"@{vars_file}"]
        bed.pinot_proxy.reset()
        bed.k8s_proxy.reset()
        started = time.monotonic()
        with log.open("a") as out:
            out.write(f"\n===== {playbook} {time.strftime('%H:%M:%S')}\n")
            out.flush()
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            # wait4's usage of ansible-playbook covers its reaped descendants: ru_maxrss is the peak RSS of the
            # largest process of the run (the controller process, a worker or a module).
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{playbook} failed (rc {os.waitstatus_to_exitcode(status)}); see {log}")
        counted = json.loads(count_file.read_text())
    return {"wall": wall, "executions": counted["module_executions"], "task_seconds": counted["task_seconds"],
            "per_task": counted["per_task"], "peak_rss_mib": round(usage.ru_maxrss / 1024),
            "pinot": bed.pinot_proxy.snapshot(), "k8s": bed.k8s_proxy.snapshot(), "load": os.getloadavg()[0]}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall time; the counts of the median run (they do not vary between runs)."""
    ordered = sorted(runs, key=lambda r: r["wall"])
    median = ordered[len(ordered) // 2]
    return dict(median, walls=[round(r["wall"], 1) for r in runs], loads=[round(r["load"], 1) for r in runs])


# ----- scenarios

def scenario_apply_and_noop(bed: Bed, runs: int, baseline_runs: int, collections: Path, log: Path) -> dict[str, Any]:
    results: dict[str, dict[str, list]] = {"first": {"ours": [], "baseline": []}, "noop": {"ours": [], "baseline": []}}
    playbook = {"ours": "ours.yml", "baseline": "baseline.yml"}

    def extra(side: str, run: int) -> dict[str, Any]:
        return estate.estate(f"bench-{side}-{run}", f"{side[0]}{run}", bed.servers, str(bed.kubeconfig),
                             bed.pinot_proxy.url)

    sides = {"ours": runs, "baseline": baseline_runs}
    sample = extra("ours", 0)
    objects = sum(len(sample[key]) for key in ("bench_manifests", "bench_tenants", "bench_schemas", "bench_tables"))
    for run in range(runs):
        for side in ("ours", "baseline"):
            if run >= sides[side]:
                continue
            bed.reset_tenants()
            bed.create_namespace(f"bench-{side}-{run}")
            result = run_playbook(bed, playbook[side], extra(side, run), collections, log)
            result["objects"] = objects
            results["first"][side].append(result)
            print(f"  first apply  {side:8} run {run + 1}: {result['wall']:.1f} s", flush=True)
    # Both sides tag the same server into the same tenant, so the shared tenants are in place for either side.
    for run in range(runs):
        for side in ("ours", "baseline"):
            if run >= sides[side]:
                continue
            result = run_playbook(bed, playbook[side], extra(side, 0), collections, log)
            result["objects"] = objects
            results["noop"][side].append(result)
            print(f"  no-op        {side:8} run {run + 1}: {result['wall']:.1f} s", flush=True)
    for run in range(1, runs):
        for side in ("ours", "baseline"):
            if run < sides[side]:
                bed.delete_namespace(f"bench-{side}-{run}")
    return results


def upgrade_steps(description: dict[str, Any]) -> list[dict[str, Any]]:
    order = {role: i for i, role in enumerate(("controller", "broker", "server", "minion"))}
    groups = sorted(description["node_groups"], key=lambda g: order[g["role"]])
    return [{"groups": [g["name"]], "partitions": {g["name"]: p}}
            for g in groups for p in range(g["replicas"] - 1, -1, -1)]


def scenario_upgrade(bed: Bed, runs: int, delay: int, collections: Path, log: Path) -> list[dict[str, Any]]:
    results = []
    for run in range(runs):
        namespace = f"bench-upgrade-{run}"
        bed.create_namespace(namespace)
        old = estate.cluster(namespace, estate.OLD_IMAGE, f"{delay}s")
        new = estate.cluster(namespace, estate.NEW_IMAGE, f"{delay}s")
        base = {"bench_kubeconfig": str(bed.kubeconfig)}
        # Set-up (not measured): the cluster at the old image, every pod Ready.
        run_playbook(bed, "upgrade.yml", dict(base, bench_cluster=old, bench_steps=[
            {"groups": [g["name"] for g in old["node_groups"]], "partitions": {}}]), collections, log)
        result = run_playbook(bed, "upgrade.yml", dict(base, bench_cluster=new, bench_steps=upgrade_steps(new)),
                              collections, log)
        pods = sum(g["replicas"] for g in new["node_groups"])
        result["floor"] = pods * delay
        result["pods"] = result["objects"] = pods
        images = {c["image"] for p in bed.k8s_request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
                  for c in p["spec"]["containers"]}
        if images != {estate.NEW_IMAGE}:
            raise RuntimeError(f"upgrade left images {images}")
        results.append(result)
        print(f"  upgrade               run {run + 1}: {result['wall']:.1f} s (floor {result['floor']} s)", flush=True)
        bed.delete_namespace(namespace)
    return results


# ----- report

def _interpreter_wall(code: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.monotonic() - started


def import_seconds(module: str, runs: int = 5) -> float:
    """Median wall time of a fresh interpreter importing `module`, less that of one importing nothing."""
    def median(code: str) -> float:
        return sorted(_interpreter_wall(code) for _run in range(runs))[runs // 2]
    return median(f"import {module}") - median("pass")


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
    return {"cpu": cpu, "nproc": str(os.cpu_count()), "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
            "kernel": platform.release(), "python": platform.python_version(), "ansible-core": ansible.__version__,
            "kubernetes (Python)": kubernetes.__version__, "requests": requests.__version__,
            "`import kubernetes` (fresh interpreter, median of 5)": f"{import_seconds('kubernetes'):.2f} s",
            "`import ansible.module_utils.basic` (the same)": f"{import_seconds('ansible.module_utils.basic'):.2f} s"}


def requests_per_object(s: dict[str, Any]) -> str:
    """Every request of the run (Events included) over the objects it manages (pods, for the upgrade)."""
    sent = sum(s["pinot"].values()) + sum(s["k8s"].values())
    return f"{sent / s['objects']:.2f}"


def row(scenario: str, side: str, s: dict[str, Any], extra: str = "") -> str:
    p, k = s["pinot"], s["k8s"]
    return (f"| {scenario} | {side} | {s['wall']:.1f} ({', '.join(map(str, s['walls']))}) | {s['executions']} | "
            f"{p['reads']} (+{p['validates']} validate) | {p['writes']} | {k['reads']} (+{k['dry_runs']} dry run) | "
            f"{k['writes']} (+{k['events']} events) | {requests_per_object(s)} | {s['peak_rss_mib']} | "
            f"{', '.join(map(str, s['loads']))} | {extra} |")


def table(results: dict[str, Any]) -> str:
    lines = ["| scenario | side | wall s, median (runs) | module executions | Pinot reads | Pinot writes | "
             "k8s reads | k8s writes | requests per object | peak RSS MiB | load avg (1 min) per run | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in (("noop", "1. no-op reconcile"), ("first", "2. first apply")):
        if key not in results:
            continue
        ours = summarise(results[key]["ours"])
        if not results[key]["baseline"]:  # --baseline-runs 0
            lines.append(row(label, "pinotops.k8s", ours))
            continue
        base = summarise(results[key]["baseline"])
        lines.append(row(label, "pinotops.k8s", ours, f"{base['wall'] / ours['wall']:.1f}x faster than baseline"))
        lines.append(row(label, "kubernetes.core + uri", base))
    if results.get("upgrade"):
        up = summarise(results["upgrade"])
        lines.append(row("3. rolling upgrade, 12 pods", "pinotops.k8s", up,
                         f"floor {up['floor']} s; {up['wall'] / up['floor']:.2f}x the floor"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-runs", type=int, default=1,
                        help="runs of the baseline (about 8 min for a first apply on the 2-core machine)")
    parser.add_argument("--upgrade-runs", type=int, default=2)
    parser.add_argument("--ready-delay", type=int, default=3, help="seconds before kwok marks a pod Ready")
    parser.add_argument("--attach", type=Path, help="JSON with controller, host, token, ca of a running test bed")
    parser.add_argument("--skip", action="append", default=[], choices=["estate", "upgrade"])
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance.md")
    args = parser.parse_args(argv)

    collections, kcore = ensure_kubernetes_core()
    workdir = Path(tempfile.mkdtemp(prefix="pinotops-bench-"))
    log = workdir / "ansible.log"
    print(f"bench workdir {workdir}; kubernetes.core {kcore}", flush=True)
    started = time.monotonic()
    bed = Bed(workdir, args.attach)
    print(f"test bed up in {time.monotonic() - started:.0f} s", flush=True)
    results: dict[str, Any] = {}
    try:
        if "estate" not in args.skip:
            results.update(scenario_apply_and_noop(bed, args.runs, args.baseline_runs, collections, log))
        if "upgrade" not in args.skip:
            results["upgrade"] = scenario_upgrade(bed, args.upgrade_runs, args.ready_delay, collections, log)
    finally:
        bed.stop()
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    text = table(results)
    print(text)
    info = machine()
    info["kubernetes.core"] = kcore
    info["Pinot"] = PINOT_VERSION
    if not args.no_doc:
        write_doc(args.out, text, info, results, args)
        print(f"wrote {args.out}")
    shutil.rmtree(workdir / "k8s", ignore_errors=True)
    shutil.rmtree(workdir / "pinot", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
