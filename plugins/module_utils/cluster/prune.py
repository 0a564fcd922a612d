# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run deletes: the configs no pod will mount any more, on a full run whatever is no longer described,
with delete_pvcs the PVCs of the StatefulSets that go."""

from __future__ import annotations

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.live import (
    MANAGED_KINDS,
    _config_maps_of,
    _group_of,
    _ordinal,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import instance_labels
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    LABEL_GROUP,
    sts_name,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.events import SOURCE


def stale_config_maps(client, cluster, live, desired_keys, groups, *, partitions, wait):
    """The rendered configs of `groups` that no pod will mount once this run is done: not described any more, not
    mounted by a pod that keeps its revision (below the partition, or any pod when the run does not wait for its
    rollout), not in the StatefulSet's current revision while a partition holds pods on it."""
    scope = {g["name"] for g in groups}
    candidates = [obj for key, obj in live.items()
                  if key[0] == "ConfigMap" and key not in desired_keys and _group_of(obj) in scope]
    if not candidates:
        return []
    pods = client.list("Pod", cluster["namespace"], instance_labels(cluster))
    used = set()
    for group in groups:
        name = sts_name(cluster["name"], group["name"])
        partition = (partitions or {}).get(group["name"]) or 0
        for pod in pods:
            owners = pod["metadata"].get("ownerReferences") or []
            if any(o.get("kind") == "StatefulSet" and o.get("name") == name for o in owners) and \
                    (not wait or _ordinal(pod) < partition):
                used |= _config_maps_of(pod.get("spec"))
        sts = live.get(("StatefulSet", name))
        current = ((sts or {}).get("status") or {}).get("currentRevision")
        if current and (partition or not wait):
            revision = client.get("ControllerRevision", current, cluster["namespace"]) or {}
            template = ((revision.get("data") or {}).get("spec") or {}).get("template") or {}
            used |= _config_maps_of(template.get("spec"))
    return [obj for obj in candidates if obj["metadata"]["name"] not in used]


def prunable(client, cluster, live, planned, groups, *, full, partitions, wait, delete_pvcs):
    """Live objects to delete, in deletion order: stale configs and, on a `full` run, whatever is no longer
    described; with `delete_pvcs`, the PVCs of the StatefulSets that go."""
    desired_keys = {(m["kind"], m["metadata"]["name"]) for _s, m, _c in planned}
    found = stale_config_maps(client, cluster, live, desired_keys, groups, partitions=partitions, wait=wait)
    if full:  # configs of described groups follow the rule above
        described = {g["name"] for g in groups}
        found += [obj for key, obj in live.items() if key not in desired_keys
                  and not (key[0] == "ConfigMap" and _group_of(obj) in described)]
    pvcs = []
    if found and delete_pvcs:
        gone_groups = {(o["metadata"].get("labels") or {}).get(LABEL_GROUP) for o in found
                       if o["kind"] == "StatefulSet"}
        pvcs = [p for p in client.list("PersistentVolumeClaim", cluster["namespace"], instance_labels(cluster))
                if (p["metadata"].get("labels") or {}).get(LABEL_GROUP) in gone_groups]
    return sorted(found, key=lambda o: MANAGED_KINDS.index(o["kind"])) + pvcs


def delete_all(client, objects, namespace, recorder, dry_run=False):
    for obj in objects:
        client.delete(obj["kind"], obj["metadata"]["name"], namespace, dry_run=dry_run)
        if not dry_run:
            recorder.record(obj, "Deleted", f"Deleted by {SOURCE}")
