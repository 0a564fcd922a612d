"""`make bench`: pinotops.k8s against the hand-written kubernetes.core + uri playbook, on the local test bed.

    python -m tests.bench [--runs 3] [--ready-delay 5] [--attach ENV.json] [--sizes one,two,x5] [--no-doc]

Starts the test bed (real Pinot 1.5.1, a real Kubernetes control plane with kwok pods), puts a counting
proxy in front of the controller and of the apiserver, and runs:
  1. no-op reconcile of the estate (cluster of 6 node groups, 100 schemas, 100 OFFLINE tables, 4 tenants);
  2. first apply of the same estate;
  3. and 4. the same for two such clusters as two hosts of one inventory (the 4 servers shared out as tenants);
  5. rolling upgrade of the 12-pod cluster with the pinot_upgrade role (gates against the bed's real Pinot
     processes), each pod Ready after a fixed delay, against the pods' own restart-to-ready times;
  6. the same upgrade with one pinot_cluster task per pod (no gates): the least a pod-by-pod upgrade costs;
  7. the server checks of one upgrade step on a Pinot holding every table the estate runs created;
  8. and 9. no-op and first apply of the x5 estate (500 schemas, 1,000 tables, 20 tenants; tests/bench/large.py).
The upgrades run first, on a Pinot without the estate's tables; the x5 estate runs last.
`--sizes x5` runs the x5 estate alone (no upgrades, no server checks): the sizes named, nothing else.
Prints a table and writes docs/performance.md. Everything started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import functools
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

from tests.bench import estate, large
from tests.bench.proxy import CountingProxy
from tests.bench.real_node import scenario_real_node_upgrade, scenario_zone_upgrade
from tests.bench.report import PLOT_NAME, median_run, write_doc
from tests.testbed import plays
from tests.testbed.k8s import K8sControlPlane
from tests.testbed.pinot import PinotCluster

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PINOTOPS_TESTBED_CACHE", Path.home() / ".cache" / "pinotops-testbed")) / "bench"
PINOT_VERSION = "1.5.1"

SIZES = ("one", "two", "x5")
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

    def __init__(self, workdir: Path, attach: Path | None, *, kafka: bool = False) -> None:
        self.workdir = workdir
        self.pinot = self.k8s = None
        if attach:
            env = json.loads(attach.read_text())
            self.controller_url, host, token, ca = env["controller"], env["host"], env["token"], env["ca"]
        else:
            self.k8s = K8sControlPlane(workdir / "k8s")
            self.k8s.start()
            self.pinot = PinotCluster(PINOT_VERSION, workdir / "pinot", servers=estate.TENANTS, kafka=kafka).start()
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
        # Live ones only: the x5 estate's tenants are instances registered in Helix, never started.
        self.servers = sorted(i for i in self.pinot_get("/liveinstances")["instances"] if i.startswith("Server_"))

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

def run_ansible(playbook: Path, inventory: Path, collections: Path, log: Path) -> dict[str, Any]:
    """One ansible-playbook run with the counting callback: wall time, module executions, task times, the
    rollouts' results, peak RSS and the load average at its end."""
    with tempfile.TemporaryDirectory() as tmp:
        count_file = Path(tmp) / "count.json"
        env = dict(os.environ,
                   ANSIBLE_COLLECTIONS_PATH=f"{REPO / 'collections'}:{collections}",
                   ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="bench_count",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, BENCH_COUNT_FILE=str(count_file))
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)]
        started = time.monotonic()
        with log.open("a") as out:
            out.write(f"\n===== {playbook.name} {time.strftime('%H:%M:%S')}\n")
            out.flush()
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            # wait4's usage of ansible-playbook covers its reaped descendants: ru_maxrss is the peak RSS of the
            # largest process of the run (the controller process, a worker or a module).
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{playbook.name} failed (rc {os.waitstatus_to_exitcode(status)}); see {log}")
        counted = json.loads(count_file.read_text())
    return {"wall": wall, "executions": counted["module_executions"], "task_seconds": counted["task_seconds"],
            "per_task": counted["per_task"], "rollouts": counted["rollouts"],
            "peak_rss_mib": round(usage.ru_maxrss / 1024), "load": os.getloadavg()[0]}


def run_playbook(bed: Bed, playbook: str, hosts: dict[str, dict[str, Any]], collections: Path,
                 log: Path) -> dict[str, Any]:
    """One run of a bench playbook over an inventory of `hosts` (name: host variables), each connected locally,
    with the requests counted by the proxies."""
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
        bed.pinot_proxy.reset()
        bed.k8s_proxy.reset()
        result = run_ansible(HERE / "playbooks" / playbook, inventory, collections, log)
    return dict(result, pinot=bed.pinot_proxy.snapshot(), k8s=bed.k8s_proxy.snapshot(),
                profile={"pinot": bed.pinot_proxy.profile(), "k8s": bed.k8s_proxy.profile()})


def run_real_node_upgrade(inventory: Path, collections: Path, log: Path) -> dict[str, Any]:
    """playbooks/upgrade.yml on the real node's inventory. No proxy there: the requests are the module's own
    counts (the role sends none besides)."""
    result = run_ansible(REPO / "playbooks" / "upgrade.yml", inventory, collections, log)
    counts = result["rollouts"][0]["request_counts"]
    return dict(result, pinot={"reads": counts["pinot"]["reads"], "validates": 0, "writes": counts["pinot"]["writes"]},
                k8s=counts["kubernetes"])


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall time; the counts of the median run (they do not vary between runs)."""
    return dict(median_run(runs), walls=[round(r["wall"], 1) for r in runs], loads=[round(r["load"], 1) for r in runs])


# ----- scenarios

def scenario_apply_and_noop(bed: Bed, runs: int, baseline_runs: int, collections: Path, log: Path, *,
                            clusters: int = 1) -> dict[str, Any]:
    """First apply, then no-op, of the estate: one cluster with the bed's 4 servers as tenants, or `clusters`
    hosts of one inventory, each a cluster of its own (namespace, object names) with its share of the servers."""
    results: dict[str, dict[str, list]] = {"first": {"ours": [], "baseline": []}, "noop": {"ours": [], "baseline": []}}
    playbook = {"ours": "ours.yml", "baseline": "baseline.yml"}
    share = len(bed.servers) // clusters

    def hosts(side: str, run: int) -> dict[str, dict[str, Any]]:
        if clusters == 1:
            return {"bench": estate.estate(f"bench-{side}-{run}", f"{side[0]}{run}", bed.servers,
                                           str(bed.kubeconfig), bed.pinot_proxy.url)}
        return {f"c{c}": estate.estate(f"bench-{side}-{run}-c{c}", f"{side[0]}{run}c{c}",
                                       bed.servers[c * share:(c + 1) * share], str(bed.kubeconfig),
                                       bed.pinot_proxy.url, tenant_prefix=f"bench_c{c}")
                for c in range(clusters)}

    def namespaces(side: str, run: int) -> list[str]:
        return [v["bench_cluster"]["namespace"] for v in hosts(side, run).values()]

    sides = {"ours": runs, "baseline": baseline_runs}
    objects = sum(estate.objects(v) for v in hosts("ours", 0).values())
    for run in range(runs):
        for side in ("ours", "baseline"):
            if run >= sides[side]:
                continue
            bed.reset_tenants()
            for namespace in namespaces(side, run):
                bed.create_namespace(namespace)
            result = run_playbook(bed, playbook[side], hosts(side, run), collections, log)
            result["objects"] = objects
            results["first"][side].append(result)
            print(f"  first apply  {side:8} run {run + 1}: {result['wall']:.1f} s", flush=True)
    # Both sides tag the same server into the same tenant, so the shared tenants are in place for either side.
    for run in range(runs):
        for side in ("ours", "baseline"):
            if run >= sides[side]:
                continue
            result = run_playbook(bed, playbook[side], hosts(side, 0), collections, log)
            result["objects"] = objects
            results["noop"][side].append(result)
            print(f"  no-op        {side:8} run {run + 1}: {result['wall']:.1f} s", flush=True)
    for run in range(1, runs):
        for side in ("ours", "baseline"):
            if run < sides[side]:
                for namespace in namespaces(side, run):
                    bed.delete_namespace(namespace)
    return results


def upgrade_steps(description: dict[str, Any]) -> list[dict[str, Any]]:
    order = {role: i for i, role in enumerate(("controller", "broker", "server", "minion"))}
    groups = sorted(description["node_groups"], key=lambda g: order[g["role"]])
    return [{"groups": [g["name"]], "partitions": {g["name"]: p}}
            for g in groups for p in range(g["replicas"] - 1, -1, -1)]


def bench_pods(bed: Bed, namespace: str) -> dict[str, Any]:
    return {p["metadata"]["name"]: p for p in bed.k8s_request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]}


def instance_map(description: dict[str, Any], pinot: PinotCluster) -> dict[str, Any]:
    """The gates of the kwok pods point at the bed's real Pinot processes: one controller, broker and minion for
    their groups, the servers in turn for the server pods."""
    instances = pinot.instances
    first = {role: next(i for i in instances if i.startswith(f"{role.capitalize()}_"))
             for role in ("controller", "broker", "minion")}
    found = {"controller": {"instance": first["controller"]},
             "broker": {"instance": first["broker"], "health_url": pinot.broker_url},
             "minion": {"instance": first["minion"], "health_url": pinot.minion_url}}
    servers = list(zip([i for i in instances if i.startswith("Server_")], pinot.server_admin_urls, strict=True))
    pods = [f"{description['name']}-{g['name']}-{o}" for g in description["node_groups"] if g["role"] == "server"
            for o in range(g["replicas"])]
    for k, pod in enumerate(pods):
        instance, url = servers[k % len(servers)]
        found[pod] = {"instance": instance, "health_url": url}
    return found


def role_vars(bed: Bed, description: dict[str, Any]) -> dict[str, Any]:
    """Variables of the pinot_upgrade role: kwok pods share the bed's real instances, so the check before each
    restart only warns, as in tests/integration/test_roles.py."""
    return {"pinot_cluster": description, "pinot_kubeconfig": str(bed.kubeconfig),
            "pinot_controller_url": bed.pinot_proxy.url, "pinot_instance_map": instance_map(description, bed.pinot),
            "pinot_upgrade_accept_unavailable": ["controller", "broker", "server"],
            "pinot_upgrade_restart_check_timeout": 0, "pinot_upgrade_rollout_timeout": 300}


def scenario_upgrade(bed: Bed, runs: int, delay: int, collections: Path, log: Path, *,
                     role: bool) -> list[dict[str, Any]]:
    """12 kwok pods from the old image to the new, one at a time: with the pinot_upgrade role (Pinot gates and
    all) or with one pinot_cluster task per pod (the least a pod-by-pod upgrade runs)."""
    kind = "role" if role else "steps"
    results = []
    for run in range(runs):
        namespace = f"bench-upgrade-{kind}-{run}"
        bed.create_namespace(namespace)
        old = estate.cluster(namespace, estate.OLD_IMAGE, f"{delay}s")
        new = estate.cluster(namespace, estate.NEW_IMAGE, f"{delay}s")
        base = {"bench_kubeconfig": str(bed.kubeconfig)}
        # Set-up (not measured): the cluster at the old image, every pod Ready.
        run_playbook(bed, "upgrade.yml", {"bench": dict(base, bench_cluster=old, bench_steps=[
            {"groups": [g["name"] for g in old["node_groups"]], "partitions": {}}])}, collections, log)
        large.wait_quiet()  # measured at load < 3, as the no-ops
        with plays.RestartClock(functools.partial(bench_pods, bed, namespace)) as clock:
            if role:
                result = run_playbook(bed, "upgrade-role.yml", {"bench": role_vars(bed, new)}, collections, log)
            else:
                result = run_playbook(bed, "upgrade.yml", {"bench": dict(base, bench_cluster=new,
                                                                         bench_steps=upgrade_steps(new))},
                                      collections, log)
        pods = sum(g["replicas"] for g in new["node_groups"])
        restarts = clock.seconds()
        if len(restarts) != pods:
            raise RuntimeError(f"{len(restarts)} of {pods} pods seen restarting: {sorted(restarts)}")
        result["floor"] = round(sum(restarts.values()), 1)
        result["pods"] = result["objects"] = pods
        images = {c["image"] for p in bench_pods(bed, namespace).values() for c in p["spec"]["containers"]}
        if images != {estate.NEW_IMAGE}:
            raise RuntimeError(f"upgrade left images {images}")
        results.append(result)
        print(f"  upgrade ({kind:5})       run {run + 1}: {result['wall']:.1f} s (the pods' own restarts "
              f"{result['floor']} s)", flush=True)
        bed.delete_namespace(namespace)
    return results


def scenario_gates(bed: Bed, collections: Path, log: Path) -> list[dict[str, Any]]:
    """The server checks of one upgrade step (before the restart, then the gate) with every table the estate
    runs left in Pinot: what a step costs on the Pinot side as the estate grows."""
    tables = len(bed.pinot_get("/tables")["tables"])
    result = run_playbook(bed, "gates.yml", {"bench": {"bench_controller_url": bed.pinot_proxy.url,
                                                       "bench_server": bed.servers[0]}}, collections, log)
    result["objects"] = result["tables"] = tables
    print(f"  server checks at {tables} tables: {result['wall']:.1f} s", flush=True)
    return [result]


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


def baseline_at(measured: dict[str, list], objects: int) -> float:
    """The baseline's wall time for `objects`, extrapolated from its measured run: one module execution per
    object, so its time grows with the objects (its fixed start-up, under 1 s, is scaled too)."""
    base = summarise(measured["baseline"])
    return base["wall"] / base["objects"] * objects


def plot(results: dict[str, Any], out: Path) -> None:
    """No-op wall time against estate size (objects managed), ours measured, the baseline measured at the small
    size and extrapolated beyond it."""
    import matplotlib  # noqa: PLC0415 - only `make bench` plots

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    named = (("one cluster", results), ("two clusters, one inventory", results.get("two_clusters") or {}),
             ("x5 estate", results.get("x5") or {}))
    sizes = [(name, summarise(r["noop"]["ours"])) for name, r in named if (r.get("noop") or {}).get("ours")]
    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=100)
    axes.plot([s["objects"] for _n, s in sizes], [s["wall"] for _n, s in sizes], "o-", label="pinotops.k8s (measured)")
    for k, (name, size) in enumerate(sizes):
        last = k == len(sizes) - 1 and k > 0
        axes.annotate(f"{name}: {size['wall']:.1f} s\n({size['objects']} objects)", (size["objects"], size["wall"]),
                      textcoords="offset points", xytext=(-8 if last else 8, -6), ha="right" if last else "left",
                      va="top", fontsize=8)
    if (results.get("noop") or {}).get("baseline"):
        base = summarise(results["noop"]["baseline"])
        axes.plot([base["objects"]], [base["wall"]], "s", color="tab:red", label="kubernetes.core + uri (measured)")
        xs = [base["objects"]] + [s["objects"] for _n, s in sizes if s["objects"] > base["objects"]]
        axes.plot(xs, [baseline_at(results["noop"], x) for x in xs], "--", color="tab:red", marker="s",
                  markerfacecolor="none", label="kubernetes.core + uri (extrapolated per object)")
        for x in xs[1:]:
            axes.annotate(f"{baseline_at(results['noop'], x):.0f} s", (x, baseline_at(results["noop"], x)),
                          textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8, color="tab:red")
    axes.set_xlabel("objects managed (Kubernetes objects, tenants, schemas, tables)")
    axes.set_ylabel("no-op reconcile, wall s (median)")
    axes.set_yscale("log")
    axes.set_ylim(bottom=min(s["wall"] for _n, s in sizes) / 4, top=axes.get_ylim()[1] * 2)
    axes.set_xlim(left=0, right=max([s["objects"] for _n, s in sizes] + [1]) * 1.12)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title("No-op reconcile against estate size")
    figure.tight_layout()
    figure.savefig(out)
    pyplot.close(figure)


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
    two = results.get("two_clusters") or {}
    for key, label in (("noop", "3. no-op reconcile, two clusters in one inventory"),
                       ("first", "4. first apply, two clusters in one inventory")):
        if two.get(key):
            ours = summarise(two[key]["ours"])
            note = ""
            if results.get(key, {}).get("baseline"):
                base = baseline_at(results[key], ours["objects"])
                note = f"baseline extrapolated: {base:.1f} s ({base / ours['wall']:.1f}x)"
            lines.append(row(label, "pinotops.k8s", ours, note))
    for key, label in (("upgrade_role", "5. rolling upgrade, 12 pods, pinot_upgrade role"),
                       ("upgrade", "6. rolling upgrade, 12 pods, one pinot_cluster task per pod"),
                       ("upgrade_real_node", "10. rolling upgrade on the real node, 6 Pinot pods, pinot_upgrade role")):
        if results.get(key):
            up = summarise(results[key])
            lines.append(row(label, "pinotops.k8s", up, f"the pods' own restarts {up['floor']} s; "
                             f"{(up['wall'] - up['floor']) / up['pods']:.2f} s per pod over them"))
    zones = results.get("upgrade_zones") or {}
    if zones:
        serial, zone = summarise([zones["serial"]]), summarise([zones["zone"]])
        lines.append(row("11. 6 servers in 3 zones (real nodes), pod by pod", "pinotops.k8s", serial,
                         f"the pods' own restarts add up to {serial['floor']} s"))
        lines.append(row("11. 6 servers in 3 zones (real nodes), a zone at a time", "pinotops.k8s", zone,
                         f"{zone['wall'] / serial['wall']:.2f} of the pod-by-pod time"))
    if results.get("gates"):
        gates = summarise(results["gates"])
        lines.append(row(f"7. server checks of one upgrade step, {gates['tables']} tables in Pinot", "pinotops.k8s",
                         gates, "before the restart, then the gate: the views of every table"))
    x5 = results.get("x5") or {}
    for key, label in (("noop", "8. no-op reconcile, x5 estate"), ("first", "9. first apply, x5 estate")):
        if (x5.get(key) or {}).get("ours"):
            ours = summarise(x5[key]["ours"])
            note = f"{estate.X5_SCHEMAS} schemas, {estate.X5_SCHEMAS * 2} tables, {estate.X5_TENANTS} tenants"
            if key == "noop" and x5.get("settled"):
                note += f"; once Pinot had settled, {x5['settled']['seconds']} s after the first apply"
            if (results.get(key) or {}).get("baseline"):
                base = baseline_at(results[key], ours["objects"])
                note += f"; baseline extrapolated: {base:.1f} s ({base / ours['wall']:.1f}x)"
            lines.append(row(label, "pinotops.k8s", ours, note))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-runs", type=int, default=1,
                        help="runs of the baseline (about 8 min for a first apply on the 2-core machine)")
    parser.add_argument("--upgrade-runs", type=int, default=2)
    parser.add_argument("--ready-delay", type=int, default=3, help="seconds before kwok marks a pod Ready")
    parser.add_argument("--attach", type=Path, help="JSON with controller, host, token, ca of a running test bed")
    parser.add_argument("--skip", action="append", default=[], choices=["estate", "upgrade", "real-node"])
    parser.add_argument("--sizes", type=lambda text: [size for size in text.split(",") if size],
                        help="estate sizes to run, comma-separated, of one (1, 2), two (3, 4: two clusters), x5 (8, "
                             "9: the x5 estate); given, only those run (no upgrades, no server checks). Default: "
                             "everything")
    parser.add_argument("--zones-only", action="store_true",
                        help="only scenario 11 (a zone at a time against pod by pod, three real nodes); its table is "
                             "printed, the doc is not written")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance.md")
    args = parser.parse_args(argv)
    sizes = args.sizes if args.sizes is not None else SIZES
    if set(sizes) - set(SIZES):
        parser.error(f"--sizes: {', '.join(sorted(set(sizes) - set(SIZES)))} not one of {', '.join(SIZES)}")
    everything = args.sizes is None
    if "x5" in sizes and args.attach and "estate" not in args.skip:
        parser.error("--sizes x5 needs the bench's own test bed (Kafka, registered instances): drop --attach")

    collections, kcore = ensure_kubernetes_core()
    workdir = Path(tempfile.mkdtemp(prefix="pinotops-bench-"))
    if args.zones_only:
        upgrade_zones = scenario_zone_upgrade(
            workdir, functools.partial(run_real_node_upgrade, collections=collections,
                                       log=workdir / "ansible.log"))
        (workdir / "results.json").write_text(json.dumps({"upgrade_zones": upgrade_zones}, indent=1))
        print(table({"upgrade_zones": upgrade_zones}))
        return 0
    log = workdir / "ansible.log"
    print(f"bench workdir {workdir}; kubernetes.core {kcore}", flush=True)
    started = time.monotonic()
    bed = Bed(workdir, args.attach, kafka="x5" in sizes and "estate" not in args.skip)
    print(f"test bed up in {time.monotonic() - started:.0f} s", flush=True)
    results: dict[str, Any] = {}
    try:
        # The upgrades first, on a Pinot without the estate's tables: the gates' cost at scale is measured apart.
        if everything and "upgrade" not in args.skip:
            if bed.pinot:  # the role's gates need the bed's own Pinot processes
                results["upgrade_role"] = scenario_upgrade(bed, args.upgrade_runs, args.ready_delay, collections,
                                                           log, role=True)
            results["upgrade"] = scenario_upgrade(bed, args.upgrade_runs, args.ready_delay, collections, log,
                                                  role=False)
        if "estate" not in args.skip:
            if "one" in sizes:
                results.update(scenario_apply_and_noop(bed, args.runs, args.baseline_runs, collections, log))
            if "two" in sizes:
                print("two clusters in one inventory:", flush=True)
                results["two_clusters"] = scenario_apply_and_noop(bed, args.runs, 0, collections, log, clusters=2)
            if everything:
                results["gates"] = scenario_gates(bed, collections, log)
            # Last: its tables would add to what the server checks read, and its tenants' instances never live.
            if "x5" in sizes:
                print("the x5 estate:", flush=True)
                results["x5"] = large.scenario(bed, args.runs, run_playbook, collections, log)
    finally:
        bed.stop()
    # Last, on a control plane of its own with the real node: real Pinot JVMs stop and start.
    if everything and "upgrade" not in args.skip and "real-node" not in args.skip:
        print("the rolling upgrade on the real node:", flush=True)
        results["upgrade_real_node"] = scenario_real_node_upgrade(
            workdir, functools.partial(run_real_node_upgrade, collections=collections, log=log))
        print("a zone at a time against pod by pod, on three real nodes:", flush=True)
        results["upgrade_zones"] = scenario_zone_upgrade(
            workdir, functools.partial(run_real_node_upgrade, collections=collections, log=log))
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    text = table(results)
    print(text)
    info = machine()
    info["kubernetes.core"] = kcore
    info["Pinot"] = PINOT_VERSION
    if not args.no_doc:
        if results.get("noop"):
            plot(results, args.out.with_name(PLOT_NAME))
        write_doc(args.out, text, info, results, args)
        print(f"wrote {args.out}")
    shutil.rmtree(workdir / "k8s", ignore_errors=True)
    shutil.rmtree(workdir / "pinot", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
