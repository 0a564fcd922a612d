"""The x5 estate of issue #14: 500 schemas, 1,000 tables, 20 server tenants (and the cluster's 28 Kubernetes
objects), reconciled by pinotops.k8s only; the baseline's figure for it is extrapolated from its measured time
per object at the small size.

Pinot pairs a table with the schema of its raw name, so the 1,000 tables are 500 hybrid pairs: an OFFLINE and a
REALTIME table per schema. A server tenant by name needs an instance of its own, and a REALTIME table needs a
stream whose partitions the controller reads when it creates the table. What the real Pinot 1.5.1 showed:

* an instance registered with `POST /instances` is a Helix instance config like a live server's (listed by
  `/instances`, not by `/liveinstances`): `pinot_tenant` tags it into a named tenant, and OFFLINE and REALTIME
  tables are created on that tenant; a REALTIME table's consuming segment is assigned to it in the ideal state
  and nothing consumes it (the external view stays empty);
* the REALTIME create reads the stream's partitions: with no reachable Kafka it fails after 225 s (HTTP 500
  `TransientConsumerException: java.util.concurrent.TimeoutException`), so the bed runs Kafka and every REALTIME
  table reads one shared topic;
* 200 REALTIME tables on the bed's 2 live servers (consuming an empty topic) cost 40 % of a core for good (Kafka
  21 %, each server 9 %, 375 threads per server): 500 would hold about one of the machine's two cores.

So the 20 tenants are 20 registered, never started server instances (`Server_bench-x5-<i>_8098`): every table is
stored by the controller (config, ideal state, segment metadata of the consuming segments) exactly as on a
tenant of live servers, and the machine stays quiet enough to judge the no-op at load < 3. No server loads or
serves these tables; reconciling them is the controller's work either way.

The x5 estate runs last: its tables would add to what the server checks of the upgrade read (scenario 7), and
its registered instances are never live.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import requests

from tests.bench import estate

TOPIC = "bench-x5"
INSTANCE_PORT = 8098
QUIET_LOAD = 3.0  # the no-op target is judged at a 1-minute load average under this
QUIET_WAIT = 240  # seconds a no-op run waits at most for it
# After 1,000 creates, Helix's controller pipeline refreshes every ideal state per run and works through the
# backlog (ZooKeeper and the controller at 1.3 cores for 10 minutes and more, measured): the no-op is measured
# once the bed's Pinot JVMs are back under this share of one core, waiting at most SETTLE_WAIT seconds.
SETTLED_CPU = 0.25
SETTLE_WAIT = 1200


def instance_names() -> list[str]:
    return [f"Server_bench-x5-{i}_{INSTANCE_PORT}" for i in range(estate.X5_TENANTS)]


def register_instances(controller_url: str) -> list[str]:
    """The tenants' server instances, registered in Helix (`POST /instances`), never started. Idempotent."""
    existing = set(requests.get(f"{controller_url}/instances", timeout=30).json()["instances"])
    for i, name in enumerate(instance_names()):
        if name in existing:
            continue
        requests.post(f"{controller_url}/instances", timeout=30, json={
            "host": f"bench-x5-{i}", "port": str(INSTANCE_PORT), "type": "SERVER", "tags": ["server_untagged"],
        }).raise_for_status()
    return instance_names()


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def pinot_cpu(pids: list[int], seconds: float = 15.0) -> float:
    """The share of one core the processes used over the next `seconds`."""
    before = _cpu_seconds(pids)
    time.sleep(seconds)
    return (_cpu_seconds(pids) - before) / seconds


def wait_settled(pids: list[int], limit: float = SETTLED_CPU, timeout: float = SETTLE_WAIT) -> tuple[float, float]:
    """Wait (at most `timeout` s) until the Pinot JVMs use under `limit` of a core; (seconds waited, last share)."""
    started = time.monotonic()
    while True:
        share = pinot_cpu(pids)
        if share < limit or time.monotonic() - started >= timeout:
            return time.monotonic() - started, share
        print(f"    Pinot still busy after the creates: {100 * share:.0f} % of a core "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        time.sleep(15)


def wait_quiet(limit: float = QUIET_LOAD, timeout: float = QUIET_WAIT) -> float:
    """Wait (at most `timeout` s) for the 1-minute load average to fall under `limit`; the seconds waited."""
    started = time.monotonic()
    while os.getloadavg()[0] >= limit and time.monotonic() - started < timeout:
        time.sleep(5)
    return time.monotonic() - started


class Progress:
    """Prints what Pinot holds of the estate every `every` seconds while a long run creates it (read directly
    from the controller, not through the counting proxy)."""

    def __init__(self, controller_url: str, prefix: str, schemas: int, tables: int, every: float = 30.0) -> None:
        self.url, self.prefix, self.schemas, self.tables, self.every = controller_url, prefix, schemas, tables, every
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()

    def _count(self, path: str, key: str) -> int:
        try:
            found = requests.get(self.url + path, timeout=30).json()
            names = found[key] if isinstance(found, dict) else found  # GET /schemas: a list
        except (requests.RequestException, ValueError, KeyError):
            return -1
        return sum(1 for name in names if name.startswith(self.prefix + "_"))

    def _run(self) -> None:
        while not self.done.wait(self.every):
            print(f"    {time.monotonic() - self.started:4.0f} s: {self._count('/schemas', 'schemas')}/{self.schemas}"
                  f" schemas, {self._count('/tables?type=offline', 'tables')} OFFLINE and "
                  f"{self._count('/tables?type=realtime', 'tables')} REALTIME of {self.tables} tables, load "
                  f"{os.getloadavg()[0]:.1f}", flush=True)

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def host_vars(bed: Any, instances: list[str]) -> dict[str, Any]:
    stream = estate.stream(TOPIC, bed.pinot.kafka_bootstrap, bed.pinot.kafka_consumer_factory)
    return estate.estate("bench-x5", "x5", instances, str(bed.kubeconfig), bed.pinot_proxy.url,
                         tenant_prefix="bench_x5", schemas=estate.X5_SCHEMAS, stream_config=stream)


def scenario(bed: Any, runs: int, run_playbook: Any, collections: Any, log: Any) -> dict[str, Any]:
    """One first apply of the x5 estate (it creates 1,548 objects; more runs would only pile up tables), then,
    once Pinot has worked through the creates, `runs` no-op runs, each started once the machine's load is under
    QUIET_LOAD (or after QUIET_WAIT s)."""
    results: dict[str, Any] = {"first": {"ours": [], "baseline": []}, "noop": {"ours": [], "baseline": []}}
    bed.pinot.create_kafka_topic(TOPIC)
    instances = register_instances(bed.controller_url)
    host = host_vars(bed, instances)
    objects = estate.objects(host)
    bed.create_namespace(host["bench_cluster"]["namespace"])
    print(f"  first apply  ours     x5: {objects} objects ({len(host['bench_tables'])} tables), progress every 30 s",
          flush=True)
    with Progress(bed.controller_url, "x5", len(host["bench_schemas"]), len(host["bench_tables"])):
        result = run_playbook(bed, "ours.yml", {"bench": host}, collections, log)
    result["objects"] = objects
    results["first"]["ours"].append(result)
    print(f"  first apply  ours     x5: {result['wall']:.1f} s (load {result['load']:.1f})", flush=True)
    settled, share = wait_settled(bed.pinot.pids())
    results["settled"] = {"seconds": round(settled), "pinot_cpu": round(share, 2)}
    print(f"  Pinot settled after {settled:.0f} s ({100 * share:.0f} % of a core)", flush=True)
    for run in range(runs):
        waited = wait_quiet()
        result = run_playbook(bed, "ours.yml", {"bench": host}, collections, log)
        result["objects"] = objects
        result["waited_for_load"] = round(waited)
        results["noop"]["ours"].append(result)
        print(f"  no-op        ours     x5 run {run + 1}: {result['wall']:.1f} s (load {result['load']:.1f}, "
              f"waited {waited:.0f} s for load < {QUIET_LOAD:g})", flush=True)
    return results
