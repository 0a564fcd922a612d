# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the rollout that the role would otherwise make in Jinja: the steps of a node group (their
pods, Pinot instances, partition, and whether they still need an update), which server groups restart together a
zone at a time, and whether the planned role order keeps Pinot's version invariant at every step."""

from __future__ import annotations

from ansible.module_utils.compat.version import LooseVersion

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.shapes import (
    Cluster,
    GroupStatus,
    NodeGroup,
    PlanStep,
    RolloutUnit,
    StepTarget,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import image_tag, pod_name, sts_name

# (lower, higher): the lower role must never run a newer Pinot than the higher one (Pinot's upgrade docs).
VERSION_ORDER = (("broker", "controller"), ("server", "broker"), ("minion", "broker"))


def step_targets(pods: list[str], instances: dict[str, str | None], instance_map: dict[str, dict[str, str]],
                 group: str, role: str) -> list[StepTarget]:
    """The Pinot targets (shapes.StepTarget) of the pods of one step. `instances` is pinot_cluster's report
    ({pod: Helix id}); `instance_map` overrides it per pod name, then node group, then role."""
    targets: list[StepTarget] = []
    for pod in pods:
        override = instance_map.get(pod) or instance_map.get(group) or instance_map.get(role)
        target = dict(override) if override else {"instance": instances.get(pod)}
        if not target.get("instance"):
            raise ValueError(f"no Pinot instance known for pod {pod} (node group {group}): it is not in "
                             f"pinot_cluster's report and pinot_upgrade_instance_map has no entry for it")
        targets.append(dict(target, pod=pod))
    return targets


def group_steps(status: GroupStatus, cluster_name: str, group_spec: NodeGroup, batch_size: int | str,
                instance_map: dict[str, dict[str, str]]) -> list[PlanStep]:
    """The steps (shapes.PlanStep) that roll one node group (`group_spec`: its description, with name and role),
    highest ordinal first as the StatefulSet controller goes, `batch_size` pods per step. `status` is pinot_cluster's
    report of the group with the new template held (replicas, update_revision and the pods' name, revision and
    instance are read). The last step has no partition, and so releases it."""
    group, role = group_spec["name"], group_spec["role"]
    if int(batch_size) < 1:
        raise ValueError(f"the batch size of node group {group} must be at least 1, got {batch_size}")
    revisions = {p["name"]: p["revision"] for p in status.get("pods") or []}
    instances = {p["name"]: p["instance"] for p in status.get("pods") or []}
    ordinals = list(range(int(status["replicas"] or 0) - 1, -1, -1))
    batches = [ordinals[i:i + int(batch_size)] for i in range(0, len(ordinals), int(batch_size))]
    steps: list[PlanStep] = []
    for index, batch in enumerate(batches, 1):
        pods = [pod_name(sts_name(cluster_name, group), ordinal) for ordinal in batch]
        targets = step_targets(pods, instances, instance_map, group, role)
        stale = [pod for pod in pods if revisions.get(pod) != status["update_revision"]]
        steps.append({
            "label": f"{group} {index}/{len(batches)}",
            "pods": pods,
            "targets": targets,
            "todo": bool(stale),
            "restart": [t["instance"] for t in targets if t["pod"] in stale],
            "ordinal": min(batch),
            "partitions": {group: min(batch)} if min(batch) > 0 else {},
        })
    return steps


def rollout_units(groups: list[NodeGroup], server_steps: str = "serial") -> tuple[list[RolloutUnit], list[str]]:
    """The rollout's units, in order, each {zone, groups}: a node group alone (zone None), stepped pod by pod; with
    `server_steps` "zone", the server groups whose only zone is Z together as one unit (zone Z), at the place of
    the first of them, so zones go in the order they first appear. Returns (units, the server groups that stay
    alone because they are in no zone or in several)."""
    units: list[RolloutUnit] = []
    by_zone: dict[str, RolloutUnit] = {}
    alone: list[str] = []
    for group in groups:
        zones = group.get("zones") or []
        if server_steps != "zone" or group["role"] != "server" or len(zones) != 1:
            if server_steps == "zone" and group["role"] == "server":
                alone.append(group["name"])
            units.append({"zone": None, "groups": [group]})
        elif zones[0] in by_zone:
            by_zone[zones[0]]["groups"].append(group)
        else:
            by_zone[zones[0]] = {"zone": zones[0], "groups": [group]}
            units.append(by_zone[zones[0]])
    return units, alone


def _tag(image):
    """The version an image runs (`apachepinot/pinot:1.4.0` -> `1.4.0`), or None when the tag is not a version."""
    tag = image_tag(image)
    return tag if tag and tag[:1].isdigit() else None


def version_order_problems(cluster: Cluster, live_groups: dict[str, GroupStatus], order: list[str]) -> list[str]:
    """Messages for every state of the upgrade (now, then after each role of `order` moved to its new image) in
    which a role runs a newer version than the role above it. Groups whose images carry no version tag are not
    judged. `live_groups` is pinot_cluster_info's report ({group: {image, ...}})."""
    groups = cluster.get("node_groups") or []
    running = {g["name"]: _tag((live_groups.get(g["name"]) or {}).get("image") or g.get("image")
                               or cluster.get("image")) for g in groups}
    target = {g["name"]: _tag(g.get("image") or cluster.get("image")) for g in groups}
    of_role = {}
    for g in groups:
        of_role.setdefault(g["role"], []).append(g["name"])
    states = [("now", dict(running))]
    versions = dict(running)
    for role in order:
        for name in of_role.get(role, []):
            versions[name] = target[name]
        states.append((f"after the {role} groups", dict(versions)))
    for when, state in states:
        for lower, higher in VERSION_ORDER:
            for lo in of_role.get(lower, []):
                for hi in of_role.get(higher, []):
                    if not (state[lo] and state[hi] and LooseVersion(state[lo]) > LooseVersion(state[hi])):
                        continue
                    what = f"{lower} group {lo} ({state[lo]}) newer than {higher} group {hi} ({state[hi]})"
                    if when == "now":
                        message = f"the cluster already runs {what}"
                    else:
                        message = f"upgrading in the order {', '.join(order)} would leave {what} {when}"
                    return [f"{message}; Pinot requires controllers >= brokers >= servers, minions"]
    return []
