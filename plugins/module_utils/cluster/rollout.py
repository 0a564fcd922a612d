# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ordered, gated, pod-by-pod rollout of a Pinot cluster's node groups (pinot_cluster_rollout).

Observed state, not a state machine: every run reads which pods already run their group's update revision and
restarts only the others, so a run stopped anywhere (a gate, a timeout, a killed process) resumes where it stopped.

Per node group, in the planned order (roles in deployment order, groups of a role in description order):
1. plan: the group's objects as a server-side dry run; the group rolls when its pod template changes or a pod
   is still on another revision;
2. step by step, highest ordinal first: can the cluster lose the step's pods now (another serving replica,
   broker, controller)? Then the partition goes down to the step (the first step writes the new template with
   it, so only its pods restart) and the step's pods become Ready; then the Pinot gate of each of them. The last
   step releases the partition.
With `server_steps: zone` the server groups whose only zone is Z are one step instead (a zone at a time): can the
cluster lose every pod of the zone still to restart? Then each group's new template goes out without partition,
those pods are deleted together and their StatefulSets recreate them at the new revision (the StatefulSet
controller itself replaces one pod at a time at most, whatever the partition); once they are Ready, the Pinot gate
of each. With podManagementPolicy Parallel the zone's pods come back together; with OrderedReady their stops
overlap, but the controller recreates them one after another.
The first failure stops the run naming the group (or zone), step, pods, gate and reason.

One execution steps every pod: a module execution per pod costs Ansible's fork, AnsiballZ and `import kubernetes`
each time (docs/performance.md: 1.26 s per pod over the pods' own restarts without gates, against 0.69 s with
them, stepped in one execution).

The engine only decides; `KubernetesSide` and `PinotSide` (below) do the requests, and tests give it fakes.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.apply import present
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.groups import (
    WaitTimeout,
    all_pods_ready,
    explain_wait_timeout,
    read_groups,
    wait_for,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import instance_labels
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout_plan import (
    group_steps,
    rollout_units,
    version_order_problems,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.shapes import (
    Cluster,
    GroupStatus,
    NodeGroup,
    RolloutUnit,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import REVISION_LABEL, sts_name
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sError
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.events import SOURCE
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.status import rolled_pods
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import consumption
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.health import (
    Probe,
    failed_check,
    gate_checks,
    gate_message,
    health_client,
    restart_checks,
    wait_for_gate,
)

GATE_TIMEOUTS = {"cluster": 60, "controller": 300, "broker": 300, "server": 600, "minion": 300}
GATE_INTERVAL = 1.0
SETTLE_INTERVAL = 1.0
OBSERVE_INTERVAL = 0.1  # the StatefulSet controller observes a new template within milliseconds
SERVER_STEPS = ("serial", "zone")
PAUSE_COMMENT = "pinotops.k8s upgrade"
NOT_READY_HINT = ("A pod that never became Ready is not replaced by Kubernetes: after fixing the description, apply "
                  "it to {group} at partition {ordinal}, delete the pod, then rerun (docs/upgrades.md, \"A pod that "
                  "never becomes Ready\").")
UNSAFE_HINT = ("To restart it anyway and accept that unavailability, add {role} to accept_unavailable "
               "(pinot_upgrade_accept_unavailable of the pinot_upgrade role).")
DELETE_HINT = ("server_steps=zone deletes the pods of a zone: grant delete on pods in the namespace "
               "(extensions/rbac/pinotops-operator.yml)")


class RolloutStopped(Exception):
    """A gate, a timeout or a pre-flight check stopped the rollout; `stop` says where (for the module's result)."""

    def __init__(self, message, **stop):
        super().__init__(message)
        self.stop = dict(stop, reason=stop.get("reason") or message)


def planned_groups(cluster: Cluster, order: list[str] | None = None,
                   node_groups: list[str] | None = None) -> tuple[list[str], list[NodeGroup]]:
    """(roles in rollout order, node groups in rollout order). `order`: roles (default the description's
    deployment order); `node_groups`: an explicit order of group names (default every group, role by role, in
    description order)."""
    roles = [role for role in (order or cluster["deployment_order"])
             if any(g["role"] == role for g in cluster["node_groups"])]
    by_name = {g["name"]: g for g in cluster["node_groups"]}
    if node_groups:
        for index, name in enumerate(node_groups):
            if name not in by_name:
                raise SpecError(f"node_groups[{index}]", f"{name!r} is not a node group of the description; "
                                f"described: {', '.join(sorted(by_name))}")
        return roles, [by_name[name] for name in node_groups]
    missing = sorted({g["role"] for g in cluster["node_groups"]} - set(roles))
    if missing:
        raise SpecError("order", f"leaves out the role(s) {', '.join(missing)} of the description's node groups")
    return roles, [g for role in roles for g in cluster["node_groups"] if g["role"] == role]


def validate_options(cluster, options):
    """Every option the description does not check, before the first request: the field named, nothing written."""
    names = {g["name"] for g in cluster["node_groups"]}
    if options.get("batch_size", 1) < 1:
        raise SpecError("batch_size", f"must be at least 1, not {options['batch_size']}")
    if options.get("server_steps", "serial") not in SERVER_STEPS:
        raise SpecError("server_steps", f"must be one of {', '.join(SERVER_STEPS)}, not {options['server_steps']!r}")
    for name, size in (options.get("group_batch_size") or {}).items():
        if name not in names:
            raise SpecError(f"group_batch_size.{name}", "is not a node group of the description")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(f"group_batch_size.{name}", f"must be an integer of at least 1, not {size!r}")
    for key, seconds in (options.get("gate_timeouts") or {}).items():
        if key not in GATE_TIMEOUTS:
            raise SpecError(f"gate_timeouts.{key}", f"is not one of {', '.join(GATE_TIMEOUTS)}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise SpecError(f"gate_timeouts.{key}", f"must be a number of seconds, not {seconds!r}")
    for key, entry in (options.get("instance_map") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("instance"), str) \
                or set(entry) - {"instance", "health_url"}:
            raise SpecError(f"instance_map.{key}", "must be a mapping with 'instance' (a Helix instance id) and "
                            "optionally 'health_url'")
    for key in ("pause_between_steps", "restart_check_timeout", "rollout_timeout", "settle_timeout", "pause_timeout"):
        if (options.get(key) or 0) < 0:
            raise SpecError(key, f"must be 0 or more, not {options[key]}")
    planned_groups(cluster, options.get("order"), options.get("node_groups"))


def needs_roll(changes: list[str], status: GroupStatus) -> bool:
    """Whether a group rolls: its objects change, its rollout is incomplete, or a pod is on another revision."""
    return bool(changes) or not status["rollout_complete"] or any(
        p["revision"] != status["update_revision"] for p in status["pods"])


def running_images(live: dict[str, GroupStatus]) -> dict[str, GroupStatus]:
    """The groups' status with `image` the one their pods run when they all run the same (a template written held,
    or a rollout stopped before its first pod, leaves them on the old one): what the version order is judged on."""
    result = {}
    for name, status in live.items():
        images = {pod.get("image") for pod in status["pods"]}
        result[name] = dict(status, image=images.pop()) if len(images) == 1 and None not in images else status
    return result


def checks_line(results: list[dict[str, Any]]) -> str:
    return ", ".join(r["check"] for r in results) or "no checks"


def unit_where(unit: RolloutUnit) -> str:
    """Where a unit of the rollout (rollout_plan.rollout_units) is, in the run's messages."""
    names = ", ".join(g["name"] for g in unit["groups"])
    return f"zone {unit['zone']} (node groups {names})" if unit["zone"] else f"node group {names}"


class Rollout:
    """One run. `kube`/`pinot`: the sides (see KubernetesSide, PinotSide); `report(line)`: progress, one line per
    pod or decision; `warn(text)`: a warning for the play; `gone()`: whether the play that started the run has
    ended (then the run stops before the next group or step, rather than roll on beside a rerun)."""

    def __init__(self, kube, pinot, cluster, options, *, check_mode=False, report=None, warn=None, gone=None,
                 clock=time.monotonic, sleep=time.sleep):
        self.kube = kube
        self.pinot = pinot
        self.cluster = cluster
        self.options = options
        self.check_mode = check_mode
        self.report = report or (lambda line: None)
        self.warn = warn or (lambda text: None)
        self.gone = gone or (lambda: False)
        self.clock = clock
        self.sleep = sleep
        self.roles, self.groups = planned_groups(cluster, options.get("order"), options.get("node_groups"))
        self.units, self.alone = rollout_units(self.groups, options.get("server_steps", "serial"))
        zones = [unit for unit in self.units if unit["zone"]]
        for index, unit in enumerate(zones, 1):
            unit["label"] = f"zone {unit['zone']} {index}/{len(zones)}"
        self.gate_timeouts = dict(GATE_TIMEOUTS, **(options.get("gate_timeouts") or {}))
        self.steps = []  # what each step did, for the result
        self.changes = []
        self.diffs = []
        self.paused = []
        self.resumed = []
        self.preflight_seconds = None

    # -- the run ---------------------------------------------------------------------------------------------

    def run(self):
        started = self.clock()
        live = self.settle()
        if self.options.get("preflight", True):
            self.preflight(live)
        self.preflight_seconds = round(self.clock() - started, 2)
        if self.alone:
            note = f"server_steps=zone: {', '.join(self.alone)} not in exactly one zone, stepped pod by pod"
            self.warn(note)
            self.report(note)
        for unit in self.units:
            name = ", ".join(g["name"] for g in unit["groups"])
            try:
                if unit["zone"]:
                    self.roll_zone(unit)
                else:
                    self.roll(unit["groups"][0])
            except (K8sError, PinotError) as exc:
                at = f", step {self.steps[-1]['label']}" if self.steps and self.steps[-1]["group"] == name else ""
                zone = {"zone": unit["zone"]} if unit["zone"] else {}
                raise RolloutStopped(f"Upgrade stopped at {unit_where(unit)}{at}: {exc}. Rerun to resume.",
                                     group=name, gate="request", reason=str(exc), **zone) from None
        self.resume_tables()
        return {"groups": self.kube.read(), "steps": self.steps, "changes": self.changes,
                "paused_tables": self.paused, "resumed_tables": self.resumed,
                "preflight_seconds": self.preflight_seconds}

    def settle(self):
        """The groups' status once every pod is Ready (a rollout left by an interrupted run has settled), or after
        `settle_timeout`: the pre-flight then names what is not Ready."""
        timeout = 0 if self.check_mode or not self.options.get("preflight", True) \
            else self.options.get("settle_timeout", 120)
        return poll_until(self.kube.read, all_pods_ready, timeout, None, interval=SETTLE_INTERVAL,
                          clock=self.clock, sleep=self.sleep)

    def preflight(self, live):
        """Before anything is written: every group to roll there, every group there Ready, Pinot healthy and
        converged, the version order kept at every role of the plan, every table to pause a REALTIME table. A
        group of the description that is not rolled may be missing: the pinot_cluster role creates it after the
        rollout of an earlier role."""
        planned = {group["name"] for group in self.groups}
        checked = [group for group in self.cluster["node_groups"] if group["name"] in live or group["name"] in planned]
        for group in checked:
            status = live.get(group["name"])
            if status is None or status["ready"] < (status["replicas"] or 0):
                state = "missing" if status is None else f"{status['ready']}/{status['replicas']}"
                self.stop_preflight(f"node group {group['name']} is not Ready ({state})")
        results, elapsed = self.pinot.cluster_gate(0 if self.check_mode else self.gate_timeouts["cluster"])
        failed = failed_check(results)
        if failed:
            self.stop_preflight(gate_message(failed, "cluster", "pre-flight", elapsed))
        problems = version_order_problems(self.cluster, running_images(live), self.roles)
        if problems:
            self.stop_preflight("; ".join(problems))
        for index, table in enumerate(self.options.get("paused_tables") or []):
            try:
                self.pinot.consumption(table, "paused", 0, check_mode=True)
            except SpecError as exc:
                raise SpecError(f"paused_tables[{index}]", exc.message) from None
        self.report(f"pre-flight passed: {len(checked)} node groups Ready; Pinot "
                    f"{checks_line(results)}; version "
                    f"order {' > '.join(self.roles)} holds")

    def stop_preflight(self, reason):
        raise RolloutStopped(f"Pre-flight failed: {reason}. Nothing was restarted.", gate="pre-flight",
                             reason=reason)

    # -- one node group --------------------------------------------------------------------------------------

    def plan_group(self, group):
        """(change paths, status, whether the pod template changes) of a group that rolls; None, reported, when
        it has nothing to do."""
        name = group["name"]
        changes, diffs, status = self.kube.plan(name)
        if status is None:
            raise RolloutStopped(f"node group {name} has no StatefulSet; install it first (pinot_cluster)",
                                 group=name, gate="pre-flight")
        self.diffs += diffs
        if not needs_roll(changes, status):
            self.report(f"{name}: every pod at revision {status['update_revision']}, nothing to restart")
            return None
        template = f"StatefulSet/{self.kube.statefulset(name)} spec.template"
        return changes, status, any(change.startswith(template) for change in changes)

    def predict(self, what, changes, pods, together=False):
        """Check mode: what would change and restart."""
        self.changes += changes
        changing = sorted({change.split(" ", 1)[0] for change in changes})
        self.report(f"{what}: would restart {', '.join(pods) or 'no pod'}"
                    + (" together" if together and len(pods) > 1 else "")
                    + (f"; changes {', '.join(changing)}" if changing else ""))

    def roll(self, group):
        name = group["name"]
        self.check_play(name, name)
        planned = self.plan_group(group)
        if planned is None:
            return
        changes, status, template_changes = planned
        steps = self.plan_steps(group, status, template_changes=template_changes)
        if self.check_mode:
            self.predict(name, changes, [pod for step in steps if step["todo"] for pod in step["stale"]])
            return
        self.pause_tables()
        judged = not template_changes  # the steps know the revision the pods must reach
        for index, step in enumerate(steps):
            written = self.run_step(group, step)
            if written is not None and not judged:
                # The first write (the new template with the first step's partition) made the new revision
                # known: the steps left are judged against it, so a pod already on it is not restarted.
                steps[index + 1:] = self.plan_steps(group, written)[index + 1:]
                judged = True
        if not steps or not steps[-1]["todo"]:  # the last step that ran released it already
            _released, release_changes = self.kube.apply(name, 0)
            self.changes += release_changes

    def plan_steps(self, group, status, template_changes=False, batch_size=None):
        """The group's steps (rollout_plan.group_steps); before the new template is written, its change makes
        every pod stale. Each step also lists its `stale` pods."""
        if template_changes:
            status = dict(status, update_revision=None)
        batch_size = batch_size or (self.options.get("group_batch_size") or {}).get(
            group["name"], self.options.get("batch_size", 1))
        steps = group_steps(status, self.cluster["name"], group, batch_size, self.options.get("instance_map") or {})
        revisions = {p["name"]: p["revision"] for p in status["pods"]}
        for step in steps:
            step["stale"] = [pod for pod in step["pods"] if revisions.get(pod) != status["update_revision"]]
            step["revisions"] = {pod: revisions.get(pod) for pod in step["pods"]}
            step["groups"], step["where"] = [group["name"]], f"node group {group['name']}"
        return steps

    def check_play(self, where, group):
        if self.gone():
            raise RolloutStopped(f"The play that started this rollout has ended; stopped before {where}. Rerun to "
                                 "resume.", gate="play ended", group=group)

    def run_step(self, group, step):
        """Check, restart and gate one step; the group's status after its write (None when it had nothing to
        restart)."""
        role, label = group["role"], step["label"]
        written = None
        if step["todo"]:
            self.check_play(label, group["name"])
        began = self.clock()
        record = {"group": group["name"], "label": label, "pods": step["pods"], "restarted": [],
                  "check_seconds": None, "ready_seconds": None, "gates": [], "seconds": None}
        self.steps.append(record)
        safety = ""
        if step["todo"] and role != "minion":  # the controller retries a task whose minion went away
            safety = "safe to restart, " if self.gate_restart(role, step) else "unsafe, accepted, "
            record["check_seconds"] = round(self.clock() - began, 2)
        if step["todo"]:
            started = self.clock()
            try:
                written, step_changes = self.kube.apply(group["name"], step["ordinal"])
            except WaitTimeout as exc:
                self.stop_step(step, "kubernetes rollout", str(exc), kind="StatefulSet",
                               hint=NOT_READY_HINT.format(group=group["name"], ordinal=step["ordinal"])
                               if exc.unready else "")
            self.changes += step_changes
            # A new template can be a revision a pod runs already (a rollback half done): Kubernetes leaves it.
            record["restarted"] = [pod for pod in step["stale"]
                                   if step["revisions"][pod] != written["update_revision"]]
            record["ready_seconds"] = round(self.clock() - started, 1)
        self.gate_pods(role, step, record, safety)
        self.pause_after(step)
        record["seconds"] = round(self.clock() - began, 2)
        return written

    def roll_zone(self, unit):
        """The server groups of one zone as one step: one check for every pod of the zone still to restart, each
        group's new template without partition, those pods deleted together (their StatefulSets recreate them at
        the update revision) and Ready, then the Pinot gate of each pod. A rerun finds the pods already updated
        and restarts only the others."""
        label, zone = unit["label"], unit["zone"]
        names = [group["name"] for group in unit["groups"]]
        self.check_play(label, ", ".join(names))
        parts = []  # (group, change paths, its steps: one, every pod of the group)
        for group in unit["groups"]:
            planned = self.plan_group(group)
            if planned:
                changes, status, template_changes = planned
                parts.append((group, changes, self.plan_steps(group, status, template_changes,
                                                              batch_size=max(1, status["replicas"] or 0))))
        if not parts:
            return
        steps = [step for _group, _changes, planned_steps in parts for step in planned_steps]
        step = {"label": label, "zone": zone, "groups": names, "where": unit_where(unit),
                **{key: [item for s in steps for item in s[key]] for key in ("pods", "targets", "stale", "restart")},
                "revisions": {pod: revision for s in steps for pod, revision in s["revisions"].items()}}
        stale = {s["groups"][0]: s["stale"] for s in steps if s["stale"]}
        if self.check_mode:
            self.kube.validate_delete_with_server(step["stale"])
            self.predict(f"{label} ({', '.join(group['name'] for group, _c, _s in parts)})",
                         [change for _g, changes, _s in parts for change in changes], step["stale"], together=True)
            return
        self.pause_tables()
        began = self.clock()
        record = {"group": ", ".join(names), "zone": zone, "label": label, "pods": step["pods"], "restarted": [],
                  "check_seconds": None, "ready_seconds": None, "gates": [], "seconds": None}
        self.steps.append(record)
        safety = ""
        if stale:
            self.check_play(label, record["group"])
            safety = "safe to restart, " if self.gate_restart("server", step) else "unsafe, accepted, "
            record["check_seconds"] = round(self.clock() - began, 2)
            # A missing permission stops the run before the first write.
            self.kube.validate_delete_with_server(step["stale"])
            started = self.clock()
            for group, _changes, _steps in parts:
                self.changes += self.kube.write(group["name"])
            try:
                statuses = self.kube.restart(stale)
            except WaitTimeout as exc:
                self.stop_step(step, "kubernetes rollout", str(exc), kind="StatefulSet", groups=sorted(exc.pending),
                               hint=NOT_READY_HINT.format(group=", ".join(sorted(exc.pending)), ordinal=0)
                               if exc.unready else "")
            record["restarted"] = [pod for group, pods in stale.items() for pod in pods
                                   if step["revisions"][pod] != statuses[group]["update_revision"]]
            record["ready_seconds"] = round(self.clock() - started, 1)
        for group, _changes, _steps in parts:  # what is left: a change besides the template, the old config
            self.changes += self.kube.apply(group["name"], 0)[1]
        self.gate_pods("server", step, record, safety)
        self.pause_after(step)
        record["seconds"] = round(self.clock() - began, 2)

    def gate_pods(self, role, step, record, safety):
        """The Pinot gate of each pod of a step, a line each; the first that fails stops the run."""
        for target in step["targets"]:
            results, elapsed = self.pinot.gate(role, target, self.gate_timeouts[role])
            record["gates"].append({"pod": target["pod"], "instance": target["instance"], "checks": results,
                                    "seconds": elapsed})
            failed = failed_check(results)
            if failed:
                reason = gate_message(failed, role, f"{step['label']} {target['pod']}", elapsed)
                self.stop_step(step, f"{role} {failed['check']}", reason, pods=[target["pod"]])
            if target["pod"] in record["restarted"]:
                what = f"{safety}restarted, Ready after {record['ready_seconds']} s"
            else:
                what = "already at the new revision"
            self.report(f"{step['label']} {target['pod']}: {what}; Pinot gate passed after {elapsed} s "
                        f"({checks_line(results)})")

    def pause_after(self, step):
        pause = self.options.get("pause_between_steps") or 0
        if pause > 0 and step["stale"]:
            self.sleep(pause)

    def gate_restart(self, role, step):
        """Can the cluster lose the step's instances now? Enforced unless the role accepts unavailability; False
        when it could not and the role accepts that."""
        label = step["label"]
        enforce = role not in (self.options.get("accept_unavailable") or [])
        results, elapsed = self.pinot.restart_check(role, step["restart"],
                                                    self.options.get("restart_check_timeout", 60) if enforce else 0)
        failed = failed_check(results)
        if failed is None:
            return True
        reason = gate_message(failed, role, label, elapsed)
        if not enforce:
            self.warn(f"{reason} (not enforced)")
            self.report(f"{label}: {reason} (not enforced: {role} is in accept_unavailable)")
            return False
        self.stop_step(step, f"{role} {failed['check']}", reason, unsafe=True, hint=UNSAFE_HINT.format(role=role))

    def stop_step(self, step, gate, reason, *, pods=None, kind="Pod", groups=None, unsafe=False, hint=""):
        """Record the stop as a Warning Event on the objects concerned (the pods, or the StatefulSets of `groups`,
        default the step's), then stop the run."""
        pods = pods or step["pods"]
        names = [self.kube.statefulset(g) for g in groups or step["groups"]] if kind == "StatefulSet" else pods
        self.kube.record_stop(kind, names, f"Upgrade stopped by gate '{gate}': {reason}")
        where = "Nothing of this step was restarted" if unsafe else "Nothing after this pod was touched"
        zone = {"zone": step["zone"]} if step.get("zone") else {}
        raise RolloutStopped(
            f"Upgrade stopped at {step['where']}, step {step['label']}, pod(s) {', '.join(pods)}, gate "
            f"'{gate}': {reason}. {where}; fix the cause and rerun to resume.{' ' + hint if hint else ''}",
            group=", ".join(step["groups"]), step=step["label"], pods=pods, gate=gate, reason=reason, **zone)

    # -- consumption -----------------------------------------------------------------------------------------

    def pause_tables(self):
        """Before the first pod restarts (a no-op read before the other groups)."""
        for table in self.options.get("paused_tables") or []:
            if table not in self.paused and self.pinot.consumption(table, "paused",
                                                                   self.options.get("pause_timeout", 300)):
                self.paused.append(table)
                self.changes.append(f"table {table}: consumption paused")
                self.report(f"{table}: consumption paused (consuming segments committed)")

    def resume_tables(self):
        """After the last group, also after a run that failed mid-way left them paused: nothing is written when
        they consume already."""
        if self.check_mode:
            return
        for table in self.options.get("paused_tables") or []:
            if self.pinot.consumption(table, "consuming", self.options.get("pause_timeout", 300)):
                self.resumed.append(table)
                self.changes.append(f"table {table}: consumption resumed")
                self.report(f"{table}: consumption resumed")


class KubernetesSide:
    """The rollout's Kubernetes requests: pinot_cluster's apply flow, one node group at a time; for a zone step,
    also the pods' deletion."""

    def __init__(self, client, cluster, *, rollout_timeout, recorder, sleep=time.sleep):
        self.client = client
        self.cluster = cluster
        self.rollout_timeout = rollout_timeout
        self.recorder = recorder
        self.sleep = sleep

    def read(self):
        return read_groups(self.client, self.cluster["name"], self.cluster["namespace"])

    def statefulset(self, group):
        return sts_name(self.cluster["name"], group)

    def plan(self, group):
        """(change paths, Ansible diffs, status or None) of the group's objects as a dry run predicts them."""
        outcome, groups = present(self.client, self.cluster, node_groups=[group], check_mode=True)
        return outcome.changes, outcome.diff(), groups.get(group)

    def apply(self, group, partition):
        """The group's objects with its StatefulSet's rollout at `partition`, waited for: (status, change paths)."""
        try:
            outcome, groups = present(self.client, self.cluster, node_groups=[group],
                                      partitions={group: partition} if partition else None, wait=True,
                                      wait_timeout=self.rollout_timeout, recorder=self.recorder)
        except WaitTimeout as exc:
            raise explain_wait_timeout(self.client, self.cluster, exc)[0] from None
        return groups[group], outcome.changes

    def write(self, group):
        """The group's objects without partition, not waited for: (change paths). Every pod is then on the update
        side; the StatefulSet controller starts replacing them itself, one at a time, until `restart` deletes them
        together."""
        outcome, _groups = present(self.client, self.cluster, node_groups=[group], recorder=self.recorder)
        return outcome.changes

    def validate_delete_with_server(self, pods):
        """A dry-run delete of each pod: without the permission the run stops before it writes anything."""
        for pod in pods:
            try:
                self.client.delete("Pod", pod, self.cluster["namespace"], dry_run=True)
            except K8sError as exc:
                if exc.status != 403:
                    raise
                raise K8sError(exc.verb, exc.kind, exc.name, exc.status, f"{exc.message}; {DELETE_HINT}") from None

    def restart(self, pods):
        """Delete the pods ({group: [pod]}) that are not at their StatefulSet's update revision, together, then
        wait until those groups' rollouts are complete: each StatefulSet recreates its pods at the update
        revision, all at once with podManagementPolicy Parallel, one after another (each once the one before is
        Ready) with OrderedReady. Returns {group: status}; a WaitTimeout names the pods not back."""
        namespace, selector = self.cluster["namespace"], instance_labels(self.cluster)
        deadline = time.monotonic() + self.rollout_timeout
        revisions = self.update_revisions(list(pods), deadline)
        of_group = {pod: group for group, names in pods.items() for pod in names}
        before = [p for p in self.client.list("Pod", namespace, selector) if p["metadata"]["name"] in of_group]
        for pod in before:
            meta = pod["metadata"]
            if (meta.get("labels") or {}).get(REVISION_LABEL) != revisions[of_group[meta["name"]]]:
                # This very pod only (uid precondition): one its StatefulSet recreated since the list stays.
                self.client.delete("Pod", meta["name"], namespace, uid=meta.get("uid"))
        try:
            wait_for(self.client, self.cluster, list(pods), timeout=self.rollout_timeout, deadline=deadline,
                     sleep=self.sleep)
        except WaitTimeout as exc:
            explained, status = explain_wait_timeout(self.client, self.cluster, exc)
            there = {p["name"] for group in status.values() for p in group["pods"]}
            missing = [f"{pod} (not recreated yet)" for pod in of_group if status and pod not in there]
            raise WaitTimeout(explained.pending, explained.seconds, explained.unready + missing) from None
        after = self.client.list("Pod", namespace, selector)
        for pod, previous in rolled_pods(before, after):
            revision = (previous["metadata"].get("labels") or {}).get(REVISION_LABEL)
            self.recorder.record(pod, "Rolled", f"Deleted by {SOURCE} together with the other pods of its zone "
                                 f"(server_steps=zone), recreated by its StatefulSet (revision {revision} -> "
                                 f"{pod['metadata']['labels'].get(REVISION_LABEL)}); Ready")
        return read_groups(self.client, self.cluster["name"], namespace, set(pods), pods=after)

    def update_revisions(self, groups, deadline):
        """{group: its StatefulSet's update revision} once the StatefulSet controller has seen the template last
        written: until then the status names the previous revision, and a pod deleted then could come back on it."""
        names = {self.statefulset(group): group for group in groups}

        def observed():
            listed = self.client.list("StatefulSet", self.cluster["namespace"], instance_labels(self.cluster))
            found = {names[s["metadata"]["name"]]: s for s in listed if s["metadata"]["name"] in names}
            pending = {group: "waiting for the StatefulSet controller to observe the new template" for group in groups
                       if group not in found or ((found[group].get("status") or {}).get("observedGeneration") or 0)
                       < (found[group]["metadata"].get("generation") or 0)}
            return found, pending

        found, _pending = poll_until(observed, lambda seen: not seen[1], deadline - time.monotonic(),
                                     lambda seen: WaitTimeout(seen[1], self.rollout_timeout),
                                     interval=OBSERVE_INTERVAL, sleep=self.sleep)
        return {group: found[group]["status"].get("updateRevision") for group in groups}

    def record_stop(self, kind, names, note):
        for name in names:
            involved = self.client.get(kind, name, self.cluster["namespace"]) or {
                "kind": kind, "apiVersion": "apps/v1" if kind == "StatefulSet" else "v1",
                "metadata": {"name": name, "namespace": self.cluster["namespace"]}}
            self.recorder.record(involved, "UpgradeStopped", note, "Warning")


class PinotSide:
    """The rollout's Pinot requests: the health gates and the consumption pause, through the controller."""

    def __init__(self, client, params):
        self.client = client
        self.params = params
        self.probe = Probe(client)

    def _gate(self, probe, checks, timeout):
        results, _attempts, elapsed = wait_for_gate(probe, checks, max(0, timeout), GATE_INTERVAL)
        return results, elapsed

    def cluster_gate(self, timeout):
        return self._gate(self.probe, gate_checks("cluster"), timeout)

    def restart_check(self, role, instances, timeout):
        return self._gate(self.probe, restart_checks(role, instances), timeout)

    def gate(self, role, target, timeout):
        probe = Probe(self.client, health_client(self.params, target["health_url"])) \
            if target.get("health_url") else self.probe
        return self._gate(probe, gate_checks(role, target["instance"], target.get("health_url")), timeout)

    def consumption(self, table, state, timeout, check_mode=False):
        """Whether the table's consumption had to change to reach `state` (paused or consuming)."""
        return consumption.apply(self.client, {"name": table, "state": state, "comment": PAUSE_COMMENT,
                                               "wait_timeout": timeout}, check_mode)["changed"]
