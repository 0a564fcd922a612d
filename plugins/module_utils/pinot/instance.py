# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot instances in and out of service: tags, segments moved onto or off them, the drop from Helix.

A scale-in that keeps every segment served: `drained` (untag, then rebalance every table whose ideal state uses
the instance, without downtime), then the pod goes, then `absent` (drop, once Pinot's drop validation passes).
Each state is judged by what the controller holds now, so a rerun after any failure goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import INSTANCE_PREFIX, TABLE_TYPES, TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.rebalance import TableRebalance

STILL_LIVE = "IS_ALIVE"  # Pinot's drop validation code for an instance whose process still runs
WORKERS = 8


def _path(instance):
    return "/instances/" + quote(instance, safe="")


def _is_broker(instance):
    return instance.startswith(INSTANCE_PREFIX["broker"])


class Instances:
    """What the controller holds about the named instances and the tables that place segments on them."""

    def __init__(self, client, names, placements=True):
        """`placements=False`: no table is read (tags and pools only); `segments_on` is then None."""
        self.client = client
        self.names = list(names)
        self.configs = dict(zip(self.names, client.get_many([_path(name) for name in self.names]), strict=True))
        self.live = set((client.get("/liveinstances") or {}).get("instances") or [])
        self.placements = None  # (table, type) -> {instance: [segments]} for the named instances
        self.replicas = {}  # (table, type) -> most replicas any segment has in the ideal state
        if placements:
            self._read_placements()

    def registered(self):
        return [name for name in self.names if self.configs[name] is not None]

    def tags(self, name):
        return sorted((self.configs[name] or {}).get("tags") or [])

    def pools(self, name):
        """{tag: pool} as Pinot holds it (it returns the numbers as strings; null before any was written)."""
        return {tag: int(pool) for tag, pool in ((self.configs[name] or {}).get("pools") or {}).items()}

    def _read_placements(self):
        """Which segments of which tables the ideal states put on the named instances (every table is read)."""
        tables = (self.client.get("/tables") or {}).get("tables") or []
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            ideal_states = list(pool.map(lambda t: self.client.get(
                "/tables/" + quote(t, safe="") + "/idealstate", missing_ok=True) or {}, tables))
        self.placements, self.replicas = {}, {}
        for table, ideal in zip(tables, ideal_states, strict=True):
            for table_type in TABLE_TYPES:
                segments = ideal.get(table_type) or {}
                held = {}
                for segment, holders in segments.items():
                    for name in set(holders) & set(self.names):
                        held.setdefault(name, []).append(segment)
                if held:
                    self.placements[(table, table_type)] = {name: sorted(s) for name, s in held.items()}
                if segments:
                    self.replicas[(table, table_type)] = max(len(holders) for holders in segments.values())

    def segments_on(self, name):
        if self.placements is None:
            return None
        return sum(len(held.get(name, [])) for held in self.placements.values())

    def report(self):
        return [{"instance": name, "registered": self.configs[name] is not None, "live": name in self.live,
                 "tags": self.tags(name), "pools": self.pools(name), "segments": self.segments_on(name)}
                for name in self.names]


def _refuse_unsafe(verdicts, what):
    problems = [f"{v.get('instanceName')}: {issue.get('message')}"
                for v in verdicts or [] if not v.get("isSafe") for issue in v.get("issues") or []]
    if problems:
        raise SpecError("instances", f"Pinot refuses to {what}: {'; '.join(problems)}. Nothing was changed.")


def set_tags(client: PinotClient, instances: Instances, names: list[str], tags: list[str],
             check_mode: bool) -> list[str]:
    """Give each instance exactly `tags`, after Pinot's own validation of the new tags; the changes made."""
    moving = [name for name in names if instances.tags(name) != sorted(tags)]
    if not moving:
        return []
    _refuse_unsafe(client.validate("/instances/updateTags/validate",
                                   [{"instanceName": name, "newTags": list(tags)} for name in moving]),
                   f"set the tags {tags} on {', '.join(moving)}")
    for name in moving:
        if not check_mode:
            # A broker's tags decide which tables it routes: the broker resource follows them.
            client.put(_path(name) + "/updateTags", params={
                "tags": ",".join(tags), "updateBrokerResource": str(_is_broker(name)).lower()})
    return [f"{name} tags {instances.tags(name)} -> {sorted(tags)}" for name in moving]


def set_pools(client: PinotClient, instances: Instances, tags: Mapping[str, list[str]], pool: int,
              check_mode: bool) -> list[str]:
    """Give every tag of each server instance the pool `pool` (Pinot's pool-based instance assignment reads the
    pool of the table's tag; the broker reads it too); the changes made. `tags`: the instances, each with the tags
    it carries after this run."""
    changes = []
    for name in tags:
        wanted = {tag: pool for tag in tags[name]}
        if instances.pools(name) == wanted:
            continue
        if not check_mode:
            client.put(_path(name), params={"updateBrokerResource": "false"},
                       body=instance_body(instances.configs[name], "SERVER", tags[name], wanted))
        changes.append(f"{name} pools {instances.pools(name)} -> {wanted}")
    return changes


def instance_body(config: dict[str, Any], instance_type: str, tags: list[str], pools: dict[str, int]) -> dict[str, Any]:
    """The full `Instance` a PUT /instances/{id} takes: Pinot replaces every field with what it is sent (a port
    left out becomes -1), so everything else goes back as the controller holds it."""
    def port(key):
        return int(config.get(key) or -1)

    return {"host": config["hostName"], "port": int(config["port"]), "type": instance_type, "tags": list(tags),
            "pools": pools, "grpcPort": port("grpcPort"), "adminPort": port("adminPort"),
            "queryServicePort": port("queryServicePort"), "queryMailboxPort": port("queryMailboxPort"),
            "queriesDisabled": bool(config.get("queriesDisabled", False))}


def rebalance_tables(client: PinotClient, keys: set[tuple[str, str]], instances: Instances, params: dict[str, Any],
                     check_mode: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """Rebalance each (table, type) without downtime; the result entries and their warnings.

    Pinot refuses a no-downtime rebalance whose minAvailableReplicas is not below the replication, so a table
    with fewer replicas than asked keeps one fewer available (none, for replication 1: said as a warning).
    """
    entries, warnings = [], []
    for table, table_type in sorted(keys):
        replicas = instances.replicas.get((table, table_type), 1)
        available = max(0, min(params["min_available_replicas"], replicas - 1))
        entry, found = TableRebalance(client, table, table_type).run(
            {"downtime": False, "min_available_replicas": available, "reassign_instances": True,
             "include_consuming": True}, check_mode, timeout=params["wait_timeout"])
        if available < params["min_available_replicas"] and entry["status"] != "NO_OP":
            warnings.append(f"{table} {table_type} has {replicas} replica(s): moved with {available} available "
                            "per segment, so its segments can be briefly unserved")
        entries.append(dict(entry, table=table))
        warnings.extend(found)
    return entries, warnings


def tenant_tables(client: PinotClient, tags: Iterable[str]) -> set[tuple[str, str]]:
    """(table, type) of every table on the server tenants these tags name."""
    keys = set()
    for tag in tags:
        tenant, _sep, table_type = tag.rpartition("_")
        if table_type not in TABLE_TYPES:
            continue
        found = client.get("/tenants/" + quote(tenant, safe="") + "/tables", missing_ok=True) or {}
        keys |= {(t.rsplit("_", 1)[0], table_type) for t in found.get("tables") or []
                 if t.endswith(TYPE_SUFFIX[table_type])}
    return keys


def present(client: PinotClient, instances: Instances, params: dict[str, Any],
            check_mode: bool) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    unknown = [name for name in instances.names if instances.configs[name] is None]
    if unknown and not check_mode:
        raise SpecError("instances", f"not registered with the controller: {', '.join(unknown)} (is the pod "
                        "running? an instance registers when it first starts)")
    # Check mode runs before the pods of a scale-out exist: what they will be given is said, not checked.
    warnings = [f"{name} is not registered yet: put in service once it runs" for name in unknown]
    registered = instances.registered()
    changes = [] if params.get("tags") is None else \
        set_tags(client, instances, registered, params["tags"], check_mode)
    if params.get("pool") is not None:  # before any rebalance: a zone-aware table places replicas by it
        tags = {name: sorted(params["tags"]) if params.get("tags") is not None else instances.tags(name)
                for name in registered}
        changes += set_pools(client, instances, tags, params["pool"], check_mode)
    if not params["rebalance"] or not registered:
        return changes, [], warnings
    tags = params["tags"] if params.get("tags") is not None else \
        sorted({tag for name in registered for tag in instances.tags(name)})
    entries, found = rebalance_tables(client, tenant_tables(client, tags), instances, params, check_mode)
    return changes + _rebalanced(entries), entries, warnings + found


def _rebalanced(entries):
    return [f"rebalance {e['table']} {e['table_type']}" for e in entries if e["status"] != "NO_OP"]


def drained(client: PinotClient, instances: Instances, params: dict[str, Any],
            check_mode: bool) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    registered = instances.registered()
    changes = set_tags(client, instances, registered, [], check_mode)
    if check_mode:  # the tags are still on: a dry run now would find the table balanced
        entries = [{"table": table, "table_type": table_type, "status": "would rebalance",
                    "segments_to_move": sum(len(segments) for segments in held.values())}
                   for (table, table_type), held in sorted(instances.placements.items())]
        return changes + _rebalanced(entries), entries, []
    entries, warnings = rebalance_tables(client, instances.placements, instances, params, check_mode)
    after = Instances(client, registered)
    left = {name: after.segments_on(name) for name in registered if after.segments_on(name)}
    if left:
        raise PinotError("GET", "/tables", reason="rebalanced, but the ideal states still place segments on "
                         + ", ".join(f"{name} ({count})" for name, count in sorted(left.items())))
    return changes + _rebalanced(entries), entries, warnings


def absent(client: PinotClient, instances: Instances, params: dict[str, Any],
           check_mode: bool) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    registered = instances.registered()
    warnings = []
    if not registered:
        return [], [], warnings
    live = [name for name in registered if name in instances.live]
    if live and not check_mode:
        live = wait_until_stopped(client, live, params["wait_timeout"])
    verdicts = client.get("/instances/dropInstance/validate", params={"instanceNames": ",".join(registered)})
    if check_mode:
        for verdict in verdicts or []:
            issues = verdict.get("issues") or []
            if any(issue.get("code") == STILL_LIVE for issue in issues):
                warnings.append(f"{verdict.get('instanceName')} still runs: it is dropped once it has stopped")
            verdict["issues"] = [issue for issue in issues if issue.get("code") != STILL_LIVE]
            verdict["isSafe"] = not verdict["issues"]
    _refuse_unsafe(verdicts, "drop " + ", ".join(registered) + " (drain them first: state drained)")
    for name in registered:
        if not check_mode:
            client.delete(_path(name))
    return [f"{name} dropped" for name in registered], [], warnings


def wait_until_stopped(client, names, timeout):
    """Poll the live instances until none of `names` is among them; PinotError naming those still live."""
    def still_live():
        live = set((client.get("/liveinstances") or {}).get("instances") or [])
        return [name for name in names if name in live]

    return poll_until(still_live, lambda still: not still, timeout, lambda still: PinotError(
        "GET", "/liveinstances", reason=f"still live after {timeout}s: {', '.join(still)} (remove their pods first; "
                                        "nothing was dropped)"))


def predicted(item: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """An instance as check mode expects it after the run."""
    if params["state"] == "absent":
        return dict(item, registered=False, live=False, tags=[])
    if params["state"] == "drained":
        return dict(item, tags=[], segments=0)
    if params.get("tags") is not None:
        item = dict(item, tags=sorted(params["tags"]))
    if params.get("pool") is not None and item["registered"]:
        item = dict(item, pools={tag: params["pool"] for tag in item["tags"]})
    return item


STATES = {"present": present, "drained": drained, "absent": absent}


def apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """pinot_instance: bring the named instances to `state`; each step reads what the controller holds first."""
    if not params["instances"]:
        raise SpecError("instances", "name at least one instance")
    if params.get("tags") is not None and params["state"] != "present":
        raise SpecError("tags", "only with state present (a drained instance has no tags)")
    if params.get("pool") is not None:
        not_servers = [name for name in params["instances"] if not name.startswith(INSTANCE_PREFIX["server"])]
        if params["state"] != "present" or params["pool"] < 0 or not_servers:
            raise SpecError("pool", "a pool is 0 or more, only with state present, and only for servers"
                            + (f", not {', '.join(not_servers)}" if not_servers else ""))
    if params["min_available_replicas"] < 0:
        raise SpecError("min_available_replicas", "must be 0 or more")
    # Tags and pools alone (no rebalance) need no table: a pools check on every run stays a few reads.
    placements = params["state"] != "present" or params["rebalance"]
    instances = Instances(client, params["instances"], placements)
    before = instances.report()
    changes, entries, warnings = STATES[params["state"]](client, instances, params, check_mode)
    if not changes:
        after = before
    elif check_mode:
        after = [predicted(item, params) for item in before]
    else:
        after = Instances(client, params["instances"], placements).report()
    return dict(changed=bool(changes), changes=changes, instances=after, rebalances=entries, warnings=warnings,
                diff=dict(before={item["instance"]: item for item in before},
                          after={item["instance"]: item for item in after}))
