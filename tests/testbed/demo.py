"""`make demo`: the whole story on the local test bed.

Install a heterogeneous 3-zone Pinot cluster (image 1.4.0) on the real control plane with schemas, tables and
tenants on the real Pinot, run it again (changed=0), then roll it to 1.5.1 pod by pod, gated on Pinot.

The kwok pods run no containers, so every pod's Pinot gate is pointed (pinot_instance_map) at one of the test
bed's real Pinot processes of the same role; the Kubernetes side is the real control plane.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.testbed.k8s import ANN_READY_DELAY, ControlPlaneError, K8sControlPlane
from tests.testbed.pinot import PRIMARY_VERSION, STATE_FILE, PinotCluster

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
READY_DELAY = "1s"


def description(namespace: str, zk: str, image: str = "apachepinot/pinot:1.4.0", name: str = "pinot") -> dict:
    """A small heterogeneous cluster over three zones: hot servers in a and b, a cold one in c."""
    return {
        "name": name,
        "namespace": namespace,
        "image": image,
        "zookeeper": {"address": zk},
        "profiles": {
            "small": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}, "storage": {"size": "1Gi"},
                      "pod_annotations": {ANN_READY_DELAY: READY_DELAY}},
            "stateless": {"pod_annotations": {ANN_READY_DELAY: READY_DELAY}},
        },
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 3, "zones": ["zone-a", "zone-b", "zone-c"],
             "profile": "small"},
            {"name": "broker-a", "role": "broker", "replicas": 1, "zone": "zone-a", "profile": "stateless"},
            {"name": "broker-b", "role": "broker", "replicas": 1, "zone": "zone-b", "profile": "stateless"},
            {"name": "server-hot-a", "role": "server", "replicas": 2, "zone": "zone-a", "profile": "small"},
            {"name": "server-hot-b", "role": "server", "replicas": 2, "zone": "zone-b", "profile": "small"},
            {"name": "server-cold-c", "role": "server", "replicas": 1, "zone": "zone-c", "profile": "small"},
            {"name": "minion", "role": "minion", "replicas": 1, "profile": "stateless"},
        ],
    }


def instance_map(desc: dict, pinot: PinotCluster) -> dict:
    """Point each pod's gate at a real Pinot process of its role (servers alternate over the real servers)."""
    instances = pinot.instances
    by_role = {r: [i for i in instances if i.startswith(r.capitalize() + "_")] for r in
               ("controller", "broker", "server", "minion")}
    out: dict[str, dict[str, str]] = {
        "controller": {"instance": by_role["controller"][0]},
        "broker": {"instance": by_role["broker"][0], "health_url": pinot.broker_url},
    }
    if by_role["minion"] and pinot.minion_url:
        out["minion"] = {"instance": by_role["minion"][0], "health_url": pinot.minion_url}
    servers = list(zip(by_role["server"], pinot.server_admin_urls, strict=False))
    k = 0
    for group in desc["node_groups"]:
        if group["role"] != "server":
            continue
        for ordinal in range(group["replicas"]):
            inst, url = servers[k % len(servers)]
            out[f"{desc['name']}-{group['name']}-{ordinal}"] = {"instance": inst, "health_url": url}
            k += 1
    return out


def server_pods_on(imap: dict, instance: str) -> list[str]:
    return sorted(p for p, t in imap.items() if t.get("instance") == instance and "-server-" in p)


def resources(pinot: PinotCluster, prefix: str = "demo") -> dict[str, Any]:
    schema = {"schemaName": f"{prefix}_events",
              "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"}],
              "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG"}],
              "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                      "granularity": "1:MILLISECONDS"}]}
    table = {"tableName": f"{prefix}_events", "tableType": "OFFLINE",
             "segmentsConfig": {"schemaName": f"{prefix}_events", "timeColumnName": "ts", "replication": "2"},
             "tenants": {"broker": "DefaultTenant", "server": "DefaultTenant"},
             "tableIndexConfig": {"loadMode": "MMAP"}, "metadata": {}}
    return {"pinot_cluster_schemas": [schema], "pinot_cluster_tables": [table],
            "pinot_cluster_tenants": [{"name": "DefaultTenant", "role": "BROKER", "instance_count": 1}]}


def write_inventory(directory: Path, clusters: dict[str, dict], pinot: PinotCluster, kubeconfig: str,
                    extra: dict | None = None) -> Path:
    """One inventory host per cluster, each carrying its description and connection settings."""
    (directory / "host_vars").mkdir(parents=True, exist_ok=True)
    hosts = {"pinot_clusters": {"hosts": {h: None for h in clusters}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    for host, desc in clusters.items():
        hv = {"pinot_kubeconfig": kubeconfig, "pinot_controller_url": pinot.controller_url, "pinot_cluster": desc,
              "pinot_instance_map": instance_map(desc, pinot),
              "pinot_upgrade_gate_timeouts": {"cluster": 30, "controller": 60, "broker": 60, "server": 60,
                                              "minion": 60},
              "pinot_upgrade_rollout_timeout": 180, "pinot_cluster_wait_timeout": 180}
        hv.update(resources(pinot, prefix=host.replace("-", "_")))
        hv.update(extra or {})
        (directory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(hv, sort_keys=False))
    return directory


def set_image(directory: Path, host: str, image: str) -> None:
    path = directory / "host_vars" / f"{host}.yml"
    hv = yaml.safe_load(path.read_text())
    hv["pinot_cluster"] = copy.deepcopy(hv["pinot_cluster"])
    hv["pinot_cluster"]["image"] = image
    path.write_text(yaml.safe_dump(hv, sort_keys=False))


def ensure_namespace(cp: K8sControlPlane, name: str) -> None:
    try:
        cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ControlPlaneError as exc:
        if "409" not in str(exc):
            raise


def run_playbook(playbook: str, inventory: Path, *args: str, echo=None, env: dict | None = None):
    """Run ansible-playbook; `echo(line)` decides which lines to print live. Returns (rc, output, seconds)."""
    full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_FORCE_COLOR="0",
                    ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", **(env or {}))
    start = time.monotonic()
    proc = subprocess.Popen([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(PLAYBOOKS / playbook), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=REPO)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if echo and echo(line):
            text = re.sub(r"^TASK \[[^:]*: (.*)\] \**$", r"\1", line.rstrip())
            print("   " + text, flush=True)
    rc = proc.wait()
    return rc, "".join(lines), round(time.monotonic() - start, 1)


def recap(output: str) -> dict[str, dict[str, int]]:
    out = {}
    for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


def pods(cp: K8sControlPlane, namespace: str, name: str = "pinot") -> list[dict]:
    sel = f"app.kubernetes.io/instance={name}"
    return cp.request("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={sel}")["items"]


def progress_line(line: str) -> bool:
    keys = ("Update and wait", "Pinot gate", "Pre-flight", "Upgrade stopped")
    return (line.startswith("TASK [") and any(k in line for k in keys)) or "Upgrade stopped" in line


def attach_or_start() -> tuple[PinotCluster, K8sControlPlane]:
    from tests.testbed.__main__ import K8S_DIR, PINOT_DIR, up  # noqa: PLC0415 (the CLI imports this module)

    def attached():
        state = PINOT_DIR / STATE_FILE
        if not state.is_file():
            return None
        pinot = PinotCluster.from_state(state)
        if not all(pinot.is_running(n) for n in pinot.components):
            return None
        try:
            return pinot, K8sControlPlane.attach(K8S_DIR)
        except ControlPlaneError:
            return None

    found = attached()
    if found is None:
        print("== starting the test bed (real Pinot + real Kubernetes control plane)")
        if up(PRIMARY_VERSION, True) != 0:
            raise SystemExit("test bed did not start")
        found = attached()
    else:
        print("== reusing the running test bed")
    return found


def main() -> int:
    t0 = time.monotonic()
    pinot, cp = attach_or_start()
    # A fresh namespace per run (a rerun must install at 1.4.0, not roll the last run's 1.5.1 back); the previous
    # runs' namespaces are deleted (the namespace controller finishes that in the background).
    for ns in cp.request("GET", "/api/v1/namespaces?labelSelector=pinotops.io/demo%3Dtrue")["items"]:
        cp.request("DELETE", f"/api/v1/namespaces/{ns['metadata']['name']}")
    namespace = f"pinot-demo-{int(time.time()) % 100000}"
    cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": namespace, "labels": {"pinotops.io/demo": "true"}}})
    inv = REPO / ".testbed" / "demo" / "inventory"
    desc = description(namespace, pinot.zk_address)
    write_inventory(inv, {"demo": desc}, pinot, str(cp.kubeconfig))
    print(f"== inventory: {inv} (Pinot {pinot.version} at {pinot.controller_url}, kubeconfig {cp.kubeconfig})")

    print("== 1. install: site.yml (role by role, each gated on Kubernetes readiness and Pinot)")
    rc, out, install_s = run_playbook("site.yml", inv, echo=lambda ln: ln.startswith("TASK [") or "PLAY RECAP" in ln)
    if rc:
        print(out[-4000:])
        return rc
    print(f"   install: {install_s}s  recap {recap(out)}")

    print("== 2. second run: nothing to change")
    rc, out, again_s = run_playbook("site.yml", inv)
    second = recap(out)
    print(f"   second run: {again_s}s  recap {second}")
    if rc or second.get("demo", {}).get("changed") != 0:
        print(out[-4000:])
        return rc or 1

    print("== 3. upgrade 1.4.0 -> 1.5.1: upgrade.yml (pre-flight, then pod by pod, each gated on Pinot)")
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(cp, namespace)}
    set_image(inv, "demo", "apachepinot/pinot:1.5.1")
    rc, out, upgrade_s = run_playbook("upgrade.yml", inv, echo=progress_line)
    gates = out.count("TASK [pinotops.k8s.pinot_upgrade : Pinot gate |")
    if rc:
        print(out[-4000:])
        return rc
    after = pods(cp, namespace)
    restarted = sorted(after, key=lambda p: p["metadata"]["creationTimestamp"])
    print("== summary")
    print(f"   install {install_s}s, idempotent rerun {again_s}s (changed=0), upgrade {upgrade_s}s "
          f"for {len(after)} pods, {gates} Pinot gates (sum of ready delays {len(after) * int(READY_DELAY[:-1])}s)")
    print("   pods in the order they were recreated (controllers, brokers, servers zone by zone, minion):")
    for p in restarted:
        img = p["spec"]["containers"][0]["image"]
        print(f"   {p['metadata']['creationTimestamp']}  {p['metadata']['name']:<28} {img}"
              f"{'' if p['metadata']['uid'] != before.get(p['metadata']['name']) else '  (not restarted!)'}")
    print(f"   total {round(time.monotonic() - t0, 1)}s")
    print("== tear down with: make testbed-down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
