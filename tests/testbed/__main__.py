"""Test bed CLI used by the Makefile.

    python -m tests.testbed build                               build or check everything the test bed runs
    python -m tests.testbed up [--pinot-version V] [--no-k8s]   start Pinot (and the k8s control plane), detached
    python -m tests.testbed down                                stop whatever `up` started
    python -m tests.testbed status                              what is running
    python -m tests.testbed demo                                the `make demo` story (tests/testbed/demo.py)
    python -m tests.testbed namespace create|delete NAME        on the k8s test bed (delete waits until it is gone)

State lives under <repo>/.testbed/{pinot,k8s}/state.json, so any later process can stop it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType

from tests.testbed import images
from tests.testbed.pinot import (
    CACHE_DIR,
    DEFAULT_VERSIONS,
    PRIMARY_VERSION,
    STATE_FILE,
    PinotCluster,
    PinotUnavailable,
    ensure_kafka,
    ensure_pinot,
    ensure_s3_plugin,
    ensure_s3proxy,
    http_get,
    running_pids,
    stop_from_state,
)
from tests.testbed.progress import last_line, run_with_progress

TESTBED_DIR = Path(__file__).resolve().parents[2] / ".testbed"
PINOT_DIR = TESTBED_DIR / "pinot"
BUILD_K8S = Path(__file__).resolve().parent / "build_k8s.sh"
K8S_DIR = TESTBED_DIR / "k8s"


def _k8s_module() -> ModuleType | None:
    # Imported lazily: the Pinot half must work while the k8s test bed is absent or broken.
    try:
        return importlib.import_module("tests.testbed.k8s")
    except ImportError as exc:
        print(f"k8s: not available ({exc})")
        return None


def build() -> int:
    """Everything the test bed runs, built or found in the cache, with a progress line every 20 s.

    The Kubernetes binaries (control plane, and kubelet, kube-proxy and CoreDNS for the real node), then each
    Pinot version of PINOTOPS_PINOT_VERSIONS with its Kafka broker and S3 plugin, the S3 server, then the real
    node's images (a Debian + JRE 17 base, one Pinot image per version, ZooKeeper).
    """
    log = CACHE_DIR / "k8s-build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if run_with_progress(["bash", str(BUILD_K8S), "--node"], log, "building Kubernetes and CoreDNS", log.parent,
                         detail=lambda path: last_line(path, "build_k8s: ")) != 0:
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
        return 1
    versions = os.environ.get("PINOTOPS_PINOT_VERSIONS", DEFAULT_VERSIONS).replace(",", " ").split()
    for version in versions:
        began = time.monotonic()
        try:
            ensure_kafka(ensure_pinot(version))
            ensure_s3_plugin(version)
        except PinotUnavailable as exc:
            print(f"testbed: Pinot {version} cannot be assembled: {exc}", file=sys.stderr)
            return 1
        print(f"testbed: Pinot {version}, its Kafka and its S3 plugin ready in {time.monotonic() - began:.1f} s",
              file=sys.stderr)
    ensure_s3proxy()
    began = time.monotonic()
    try:
        built = images.build_all(tuple(versions))
    except images.ImageBuildError as exc:
        print(f"testbed: the real node's images cannot be built: {exc}", file=sys.stderr)
        return 1
    print(f"testbed: images {', '.join(built)} ready in {time.monotonic() - began:.1f} s", file=sys.stderr)
    return 0


def up(version: str, with_k8s: bool) -> int:
    stop_from_state(PINOT_DIR)
    shutil.rmtree(PINOT_DIR, ignore_errors=True)
    cluster = PinotCluster(version, PINOT_DIR, kafka=True, die_with_parent=False).start()
    print(f"pinot {version} up in {cluster.start_seconds}s")
    print(f"controller: {cluster.controller_url}")
    print(f"broker:     {cluster.broker_url}")
    print(f"kafka:      {cluster.kafka_bootstrap}")
    print(f"export PINOTOPS_TESTBED_STATE={PINOT_DIR / STATE_FILE}")
    if not with_k8s:
        return 0
    k8s = _k8s_module()
    if k8s is None:
        return 0
    plane = k8s.K8sControlPlane(K8S_DIR, detach=True)
    try:
        plane.start()
    except Exception as exc:  # the Pinot half stays up and usable
        print(f"k8s: failed to start: {exc}", file=sys.stderr)
        return 1
    print(f"k8s api:    {plane.host}")
    print(f"export PINOTOPS_TESTBED_KUBECONFIG={plane.kubeconfig}")
    return 0


def down() -> int:
    stopped = stop_from_state(PINOT_DIR) if PINOT_DIR.is_dir() else []
    print(f"pinot: stopped {len(stopped)} JVMs")
    if (K8S_DIR / STATE_FILE).is_file():
        k8s = _k8s_module()
        if k8s is not None:
            k8s.K8sControlPlane(K8S_DIR, detach=True).stop()
            print("k8s: stopped")
    return 0


def status() -> int:
    state_file = PINOT_DIR / STATE_FILE
    if not state_file.is_file():
        print("pinot: not up")
    else:
        cluster = PinotCluster.from_state(state_file)
        live = running_pids(cluster.workdir)
        print(f"pinot {cluster.version}: {len(live)} JVMs alive ({state_file})")
        for name in cluster.components:
            running = "running" if cluster.is_running(name) else "STOPPED"
            print(f"  {name:<11} {running}  {cluster.components[name]['ports']}")
        code, body = http_get(cluster.controller_url + "/instances", cluster.auth)
        print(f"  GET /instances -> {code}: {body.strip()[:400]}")
        code, body = http_get(cluster.controller_url + "/version", cluster.auth)
        versions = sorted(set(json.loads(body).values())) if code == 200 else body.strip()[:200]
        print(f"  GET /version   -> {code}: {versions}")
    k8s_state = K8S_DIR / STATE_FILE
    if k8s_state.is_file():
        data = json.loads(k8s_state.read_text())
        procs = data.get("processes", {})
        alive = [n for n, p in procs.items() if Path(f"/proc/{p['pid']}").exists()]
        print(f"k8s: {data.get('host')} {len(alive)}/{len(procs)} processes alive, kubeconfig {data.get('kubeconfig')}")
    else:
        print("k8s: not up")
    return 0


def namespace(action: str, name: str) -> int:
    """Create or delete a namespace on the k8s test bed named by PINOTOPS_TESTBED_KUBECONFIG (default: `up`'s)."""
    from tests.testbed.k8s import ControlPlaneError, K8sControlPlane  # noqa: PLC0415
    from tests.testbed.plays import ensure_namespace  # noqa: PLC0415 (needs the k8s half)

    kubeconfig = Path(os.environ.get("PINOTOPS_TESTBED_KUBECONFIG", K8S_DIR / "kubeconfig"))
    plane = K8sControlPlane.attach(kubeconfig.parent)
    if action == "create":
        ensure_namespace(plane, name)
        return 0
    try:
        plane.request("DELETE", f"/api/v1/namespaces/{name}")
    except ControlPlaneError as exc:
        if "HTTP 404" not in str(exc):
            raise
    try:
        plane.wait_gone(f"/api/v1/namespaces/{name}")
    except ControlPlaneError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testbed", description="Start/stop the local test bed.")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("build", help="build or check the Kubernetes binaries and every Pinot version of the matrix")
    start = sub.add_parser("up", help="start Pinot (2 servers, minion, Kafka) and the k8s control plane, detached")
    start.add_argument("--pinot-version", default=PRIMARY_VERSION)
    start.add_argument("--no-k8s", action="store_true", help="Pinot only")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("status", help="show what is running")
    sub.add_parser("demo", help="install, query, rerun, drift report and upgrade 1.4.0 -> 1.5.1 on real pods")
    ns = sub.add_parser("namespace", help="create or delete a namespace on the k8s test bed")
    ns.add_argument("ns_action", choices=["create", "delete"])
    ns.add_argument("name")
    args = parser.parse_args(argv)
    if args.action == "build":
        return build()
    if args.action == "up":
        return up(args.pinot_version, not args.no_k8s)
    if args.action == "down":
        return down()
    if args.action == "demo":
        from tests.testbed.demo import main as demo  # noqa: PLC0415 (loaded only for the demo)
        return demo()
    if args.action == "namespace":
        return namespace(args.ns_action, args.name)
    return status()


if __name__ == "__main__":
    sys.exit(main())
