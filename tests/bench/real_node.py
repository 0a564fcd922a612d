"""`make bench` on the real node: the rolling upgrade of real Pinot pods (kubelet + containerd, JVMs that stop and
start), measured against the pods' own restart-to-Ready times, as the kwok upgrade is.

The cluster is the real-node tests' (tests/testbed/real_cluster.py): a managed ZooKeeper (not restarted), a
controller, two brokers, two server groups of one server and a minion, installed at 1.4.0 by site.yml (set-up, not
measured), then upgraded to 1.5.1 by playbooks/upgrade.yml. One controller: its restart is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench.large import wait_quiet
from tests.testbed import plays
from tests.testbed.real_cluster import FROM_VERSION, HOST, TO_VERSION, real_cluster_bed
from tests.testbed.zone_cluster import SERVERS_PER_ZONE, ZONES, zone_description, zone_resources

NAMESPACE = "bench-real"
PODS = 6  # controller, 2 brokers, 2 servers, minion


def scenario_real_node_upgrade(workdir: Path, run_upgrade: Callable[[Path], dict[str, Any]]) -> list[dict[str, Any]]:
    """`run_upgrade(inventory)` runs playbooks/upgrade.yml over the inventory and returns the bench's result."""
    started = time.monotonic()
    with real_cluster_bed(workdir / "real-node", (FROM_VERSION, TO_VERSION), NAMESPACE) as cluster:
        rc, out, seconds = cluster.play("site.yml")
        if rc:
            raise RuntimeError(f"real node: site.yml failed (rc {rc}): {out[-2000:]}")
        print(f"  real node: bed and {FROM_VERSION} install in {time.monotonic() - started:.0f} s "
              f"(site.yml {seconds} s)", flush=True)
        host_vars = plays.host_vars(cluster.inventory, HOST)
        host_vars["pinot_cluster"]["image"] = f"apachepinot/pinot:{TO_VERSION}"
        host_vars["pinot_controller_url"] = cluster.service_url("controller")
        host_vars["pinot_upgrade_accept_unavailable"] = ["controller"]
        plays.write_host_vars(cluster.inventory, HOST, host_vars)
        waited = wait_quiet()  # the JVMs just started: measured at load < 3, as the other scenarios
        print(f"  real node: waited {waited:.0f} s for load < 3", flush=True)
        with plays.RestartClock(cluster.pods) as clock:
            result = run_upgrade(cluster.inventory)
        restarts = clock.seconds()
        if len(restarts) != PODS:
            raise RuntimeError(f"real node: {len(restarts)} of {PODS} pods seen restarting: {sorted(restarts)}")
        images = {p["spec"]["containers"][0]["image"] for name, p in cluster.pods().items() if "zookeeper" not in name}
        if images != {f"apachepinot/pinot:{TO_VERSION}"}:
            raise RuntimeError(f"real node: the upgrade left images {images}")
    result.update(floor=round(sum(restarts.values()), 1), pods=PODS, objects=PODS, restarts=restarts)
    print(f"  upgrade (real node)  run 1: {result['wall']:.1f} s (the pods' own restarts {result['floor']} s)",
          flush=True)
    return [result]


def scenario_zone_upgrade(workdir: Path, run_upgrade: Callable[[Path], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The six servers of tests/testbed/zone_cluster.py (two per zone, three real nodes) rolled by upgrade.yml
    twice, each time for a new server setting: pod by pod (server_steps=serial), then a zone at a time. Installed
    at 1.5.1 by site.yml (set-up, not measured); measured at load < 3."""
    servers = len(ZONES) * SERVERS_PER_ZONE
    results = {}
    with real_cluster_bed(workdir / "zones", (TO_VERSION,), "bench-zones", zones=ZONES) as cluster:
        host_vars = plays.host_vars(cluster.inventory, HOST)
        host_vars["pinot_cluster"] = zone_description(f"apachepinot/pinot:{TO_VERSION}", "bench-zones")
        host_vars.update(zone_resources(cluster.kafka.kafka_bootstrap, cluster.kafka.kafka_consumer_factory,
                                        cluster.topic))
        plays.write_host_vars(cluster.inventory, HOST, host_vars)
        rc, out, seconds = cluster.play("site.yml")
        if rc:
            raise RuntimeError(f"zones: site.yml failed (rc {rc}): {out[-2000:]}")
        print(f"  zones: three nodes and a {TO_VERSION} install, site.yml {seconds} s", flush=True)
        for timeout, steps in ((25000, "serial"), (26000, "zone")):
            host_vars["pinot_cluster"]["pinot"]["server"]["properties"] = {
                "pinot.server.query.executor.timeout": timeout}
            host_vars.update(pinot_controller_url=cluster.service_url("controller"), pinot_upgrade_server_steps=steps)
            plays.write_host_vars(cluster.inventory, HOST, host_vars)
            waited = wait_quiet()
            with plays.RestartClock(cluster.pods) as clock:
                result = run_upgrade(cluster.inventory)
            restarts = clock.seconds()
            if sorted(restarts) != sorted(name for name in cluster.pods() if "-server-" in name):
                raise RuntimeError(f"zones ({steps}): pods seen restarting {sorted(restarts)}, not the {servers} "
                                   "servers")
            result.update(floor=round(sum(restarts.values()), 1), pods=servers, objects=servers, restarts=restarts)
            results[steps] = result
            print(f"  zones: {steps} roll of {servers} servers {result['wall']:.1f} s (waited {waited:.0f} s for "
                  f"load < 3; the pods' own restarts add up to {result['floor']} s)", flush=True)
    return results
