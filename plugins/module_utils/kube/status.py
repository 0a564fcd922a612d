# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Kubernetes says of a StatefulSet's rollout and of its pods, in its own terms: `kubectl rollout status`
(partition-aware), why a pod is not Ready, the last Event about each pod, and which pods a rollout replaced.
Pure functions of objects as read; nothing here knows Pinot."""

from __future__ import annotations

from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import REVISION_LABEL


def rollout_status(sts: dict[str, Any]) -> tuple[bool, str]:
    """(done, message) for a StatefulSet, following kubectl's StatefulSetStatusViewer."""
    spec = sts.get("spec") or {}
    status = sts.get("status") or {}
    meta = sts.get("metadata") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return True, "update strategy is not RollingUpdate; nothing to wait for"
    observed = status.get("observedGeneration")
    if not observed or meta.get("generation", 0) > observed:
        return False, "waiting for the StatefulSet controller to observe the new generation"
    replicas = spec.get("replicas", 1)
    ready = status.get("readyReplicas") or 0
    if ready < replicas:
        return False, f"{ready} of {replicas} pods ready"
    if (status.get("replicas") or 0) > replicas:
        return False, f"scaling down: {status.get('replicas')} pods, want {replicas}"
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    if partition:
        updated = status.get("updatedReplicas") or 0
        if updated < replicas - partition:
            return False, f"{updated} of {replicas - partition} pods above partition {partition} updated"
        return True, f"partitioned rollout done: {updated} pods updated, partition {partition}"
    if status.get("updateRevision") != status.get("currentRevision"):
        return False, (f"rolling update in progress: {status.get('updatedReplicas') or 0} of {replicas} pods at "
                       f"revision {status.get('updateRevision')}")
    return True, f"{replicas} pods ready at revision {status.get('currentRevision')}"


def pod_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _condition(pod, kind):
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def waiting_reason(pod: dict[str, Any]) -> str:
    """Why a pod is not Ready, in the words Kubernetes uses: what a user needs to act on a stuck rollout."""
    status = pod.get("status") or {}
    scheduled = _condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        return f"{scheduled.get('reason') or 'not scheduled'}: {scheduled.get('message', '')}".rstrip(": ")
    containers = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            why = f"{container.get('name')}: {waiting['reason']}"
            last = (container.get("lastState") or {}).get("terminated")
            if last:
                why += f" (last exit {last.get('exitCode')}{', ' + last['reason'] if last.get('reason') else ''})"
            return f"{why}: {waiting['message']}" if waiting.get("message") else why
    if status.get("phase") == "Running":
        ready = _condition(pod, "ContainersReady")
        return f"running, not ready{': ' + ready['message'] if ready.get('message') else ' (readiness probe)'}"
    return status.get("phase") or "no phase"


def last_pod_events(events: list[dict[str, Any]]) -> dict[str, str]:
    """{pod name: 'Reason: message'} of the newest Event about each pod (what `kubectl describe` shows last)."""
    newest = {}
    for event in events:
        involved = event.get("involvedObject") or {}
        if involved.get("kind") != "Pod" or not involved.get("name"):
            continue
        when = (event.get("lastTimestamp") or event.get("eventTime")
                or (event.get("metadata") or {}).get("creationTimestamp") or "")
        if involved["name"] not in newest or when >= newest[involved["name"]][0]:
            text = f"{event.get('reason') or '?'}: {' '.join((event.get('message') or '').split())}".rstrip(": ")
            newest[involved["name"]] = (when, text)
    return {name: text for name, (_when, text) in newest.items()}


def pod_revision(pod: dict[str, Any]) -> str | None:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL)


def rolled_pods(before: list[dict[str, Any]],
                after: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod, its predecessor) for every pod of a StatefulSet that was replaced between two listings (same name,
    new uid) and now runs another revision: what a run's rollout restarted."""
    previous = {p["metadata"]["name"]: p for p in before}
    return [(pod, previous[pod["metadata"]["name"]]) for pod in sorted(after, key=lambda p: p["metadata"]["name"])
            if pod["metadata"]["name"] in previous
            and pod["metadata"].get("uid") != previous[pod["metadata"]["name"]]["metadata"].get("uid")
            and pod_revision(pod) != pod_revision(previous[pod["metadata"]["name"]])]
