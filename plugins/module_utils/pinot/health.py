# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot health gates: is a component (or the whole cluster) serving, as Pinot itself sees it.

Everything here only reads. A gate is a list of checks; each check returns (ok, detail). `wait_for_gate`
repeats them until all pass or the timeout expires, and reports the checks of the last attempt.

Two kinds of gate: after a restart (is the instance back and serving?) and before one (can the cluster lose these
instances now without anything becoming unavailable?), as Strimzi's roller asks before restarting a Kafka broker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.common import poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import INSTANCE_PREFIX, ROLES, TABLE_TYPES, TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError

COMPONENTS = ("cluster",) + ROLES
SERVING_STATES = ("ONLINE", "CONSUMING")  # the external-view states a broker routes queries to
# For type hints: a check of a gate, (name, function(probe) -> (ok, detail)); run_once gives {check, ok, detail}.
Check = tuple[str, Callable[["Probe"], tuple[bool, str]]]


class Probe:
    """Reads Pinot state through the controller (and optionally a component's own admin URL)."""

    def __init__(self, client: PinotClient, health_client: PinotClient | None = None) -> None:
        self.client = client
        self.health_client = health_client
        self._cluster_name = None

    def live_instances(self) -> set[str]:
        # GET /liveinstances ({"instances": [...]}) appeared after 0.11; older controllers expose Helix'
        # LIVEINSTANCES through /zk/ls.
        body = self.client.get("/liveinstances", missing_ok=True)
        if isinstance(body, dict) and "instances" in body:
            return set(body["instances"])
        body = self.client.get("/zk/ls", params={"path": f"/{self.cluster_name()}/LIVEINSTANCES"})
        return set(body or [])

    def cluster_name(self) -> str | None:
        if self._cluster_name is None:
            self._cluster_name = (self.client.get("/cluster/info") or {}).get("clusterName")
        return self._cluster_name

    def tables(self) -> list[str]:
        return list((self.client.get("/tables") or {}).get("tables", []))

    def views(self, tables: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """{table: (ideal state, external view)}, read concurrently: a check of a 1,000-table cluster reads
        2,000 views."""
        found = self.client.get_many([f"/tables/{t}/{view}" for t in tables for view in ("idealstate", "externalview")])
        return {t: (found[2 * i] or {}, found[2 * i + 1] or {}) for i, t in enumerate(tables)}

    def external_views(self, tables: list[str]) -> dict[str, dict[str, Any]]:
        """{table: external view}, read concurrently."""
        return {t: view or {} for t, view in
                zip(tables, self.client.get_many([f"/tables/{t}/externalview" for t in tables]), strict=True)}

    def broker_view(self) -> dict[str, dict[str, str]]:
        """{table with type: {broker instance: state}}: Helix' external view of the broker resource."""
        body = self.client.get("/zk/get", params={"path": f"/{self.cluster_name()}/EXTERNALVIEW/brokerResource"},
                               missing_ok=True)
        if isinstance(body, str):
            try:
                body = json.loads(body) if body.strip() else {}
            except ValueError:
                raise PinotError("GET", "/zk/get", None, "the broker resource's external view is not JSON") from None
        return (body or {}).get("mapFields") or {}


def _by_type(view, table_type):
    return (view or {}).get(table_type) or {}


def gate_controller_health(probe):
    try:
        body = probe.client.get("/health")
    except PinotError as exc:
        return False, f"GET /health: {exc}"
    text = body if isinstance(body, str) else str(body)
    return text.strip().upper() == "OK", f"GET /health -> {text.strip()[:100]}"


def gate_leadership(probe):
    body = probe.client.get("/leader/tables", missing_ok=True)
    if not isinstance(body, dict):
        return True, "GET /leader/tables not exposed by this controller; leadership not checked"
    entries = body.get("leadControllerEntryMap") or {}
    if not body.get("leadControllerResourceEnabled", True) or not entries:
        return True, "lead controller resource disabled; the Helix leader handles every table"
    live = probe.live_instances()
    leaderless = sorted(p for p, e in entries.items() if (e or {}).get("leadControllerId") not in live)
    if leaderless:
        return False, f"{len(leaderless)} lead-controller partitions without a live leader (e.g. {leaderless[0]})"
    leaders = sorted({e.get("leadControllerId") for e in entries.values()})
    return True, f"every lead-controller partition has a live leader ({', '.join(leaders)})"


def gate_live(probe, instance):
    live = probe.live_instances()
    if instance in live:
        return True, f"{instance} is live in Helix"
    return False, f"{instance} is not live in Helix"


def gate_component_health(probe, url):
    try:
        body = probe.health_client.get("/health")
    except PinotError as exc:
        return False, f"GET {url}/health: {exc.reason or exc}"
    text = body if isinstance(body, str) else str(body)
    return True, f"GET {url}/health -> {text.strip()[:100]}"


def _listed(items, limit=3):
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def gate_segments(probe, tables, instance=None):
    """No segment in ERROR/OFFLINE (on `instance`, or anywhere) and external view == ideal state."""
    found = {}  # (table with type, segment, instance) -> what is wrong with that replica: one line each
    converged = 0
    for table, (ideal, external) in probe.views(tables).items():
        for table_type in TABLE_TYPES:
            want, have = _by_type(ideal, table_type), _by_type(external, table_type)
            typed = table if table.endswith(TYPE_SUFFIX[table_type]) else table + TYPE_SUFFIX[table_type]
            for segment, assignment in want.items():
                for inst, state in (assignment or {}).items():
                    if instance is not None and inst != instance:
                        continue
                    actual = (have.get(segment) or {}).get(inst)
                    if actual != state:
                        found[typed, segment, inst] = f"{actual or 'missing'} (ideal {state})"
            for segment, assignment in have.items():
                for inst, state in (assignment or {}).items():
                    if (instance is None or inst == instance) and state == "ERROR":
                        found.setdefault((typed, segment, inst), "ERROR")
        converged += 1
    problems = [f"{table}/{segment} on {inst}: {what}" for (table, segment, inst), what in sorted(found.items())]
    scope = f"on {instance}" if instance else "in the cluster"
    if problems:
        return False, f"{len(problems)} segment(s) {scope} not as in the ideal state: {_listed(problems)}"
    return True, f"external view == ideal state {scope} for {converged} table(s)"


def gate_servers_can_stop(probe, instances, tables):
    """Every segment served by `instances` has another serving replica on a live server outside them."""
    leaving = set(instances)
    staying = probe.live_instances() - leaving
    stranded = []
    for table, external in probe.external_views(tables).items():
        for table_type in TABLE_TYPES:
            typed = table if table.endswith(TYPE_SUFFIX[table_type]) else table + TYPE_SUFFIX[table_type]
            for segment, states in sorted(_by_type(external, table_type).items()):
                states = states or {}
                if not any(states.get(i) in SERVING_STATES for i in leaving):
                    continue
                if not any(state in SERVING_STATES and inst in staying for inst, state in states.items()):
                    stranded.append(f"{typed}/{segment}")
    who = ", ".join(sorted(leaving))
    if stranded:
        return False, (f"{len(stranded)} segment(s) would have no serving replica while {who} restarts: "
                       f"{_listed(stranded)}")
    return True, f"every segment {who} serves has another serving replica"


def gate_brokers_can_stop(probe, instances):
    """Every table routed by `instances` is routed by another live broker too (Helix' broker resource)."""
    leaving = set(instances)
    staying = probe.live_instances() - leaving
    orphaned = sorted(table for table, states in probe.broker_view().items()
                      if any((states or {}).get(i) == "ONLINE" for i in leaving)
                      and not any(state == "ONLINE" and b in staying for b, state in (states or {}).items()))
    who = ", ".join(sorted(leaving))
    if orphaned:
        return False, f"{len(orphaned)} table(s) would have no live broker while {who} restarts: {_listed(orphaned)}"
    return True, f"every table {who} routes has another live broker"


def gate_controllers_can_stop(probe, instances):
    """Another controller stays live, so Helix elects a lead controller while `instances` restart."""
    others = sorted(i for i in probe.live_instances() - set(instances) if i.startswith(INSTANCE_PREFIX["controller"]))
    if not others:
        return False, (f"{', '.join(sorted(instances))} is the only live controller: while it restarts no "
                       "table, segment or tenant can change and realtime segments cannot commit")
    return True, f"{len(others)} other live controller(s): {_listed(others)}"


def restart_checks(component: str, instances: list[str], tables: list[str] | None = None) -> list[Check]:
    """The checks before `instances` of `component` are taken down, as (name, function(probe)) pairs."""
    if component == "server":
        return [("restart_safe", lambda probe: gate_servers_can_stop(
            probe, instances, tables if tables is not None else probe.tables()))]
    if component == "broker":
        return [("restart_safe", lambda probe: gate_brokers_can_stop(probe, instances))]
    if component == "controller":
        return [("restart_safe", lambda probe: gate_controllers_can_stop(probe, instances))]
    return []  # minions: the controller retries a task whose minion went away


def gate_checks(component: str, instance: str | None = None, health_url: str | None = None,
                tables: list[str] | None = None) -> list[Check]:
    """The checks of one gate, as (name, function(probe)) pairs."""
    checks = []
    if component in ("cluster", "controller"):
        checks.append(("controller_health", gate_controller_health))
    if component == "controller":
        checks.append(("leadership", gate_leadership))
    if instance and component != "cluster":
        checks.append(("live", lambda probe: gate_live(probe, instance)))
    if health_url and component != "cluster":
        checks.append(("health", lambda probe: gate_component_health(probe, health_url)))
    if component in ("cluster", "server"):
        scope = instance if component == "server" else None
        checks.append(("segments", lambda probe: gate_segments(
            probe, tables if tables is not None else probe.tables(), scope)))
    return checks


def run_once(probe: Probe, checks: list[Check]) -> list[dict[str, Any]]:
    results = []
    for name, fn in checks:
        try:
            ok, detail = fn(probe)
        except PinotError as exc:
            ok, detail = False, str(exc)
        results.append({"check": name, "ok": bool(ok), "detail": detail})
    return results


def failed_check(results):
    """The first check of a gate's results that failed, or None."""
    return next((r for r in results if not r["ok"]), None)


def gate_message(check: dict[str, Any], component: str, label: str, elapsed: float) -> str:
    """The one sentence a failed gate is reported with (pinot_health, pinot_cluster_rollout)."""
    return f"Pinot gate '{check['check']}' failed for {component} {label} after {elapsed}s: {check['detail']}"


def wait_for_gate(probe, checks, timeout, interval, *, clock=time.monotonic, sleep=time.sleep):
    """Run the checks until all pass or `timeout` ends: (the last results, how many tries, seconds taken)."""
    start = clock()
    attempts = []

    def attempt():
        attempts.append(None)
        return run_once(probe, checks)

    results = poll_until(attempt, lambda found: all(r["ok"] for r in found), timeout, None, interval=interval,
                         clock=clock, sleep=sleep)
    return results, len(attempts), round(clock() - start, 2)


def health_client(params: dict[str, Any], url: str) -> PinotClient:
    """A client for a component's own URL. Pinot's /health needs no credentials; they are sent only when asked
    (`health_url_credentials`), since a pod's URL is usually plain HTTP."""
    credentials = {k: params.get(k) for k in ("username", "password", "token")} \
        if params.get("health_url_credentials") else {}
    return PinotClient(url, **credentials, validate_certs=params.get("validate_certs", True),
                       ca_cert=params.get("ca_cert"), timeout=params.get("timeout") or 30.0, retries=0)


def build_probe(params: dict[str, Any]) -> Probe:
    client = PinotClient.from_params(params)
    return Probe(client, health_client(params, params["health_url"]) if params.get("health_url") else None)
