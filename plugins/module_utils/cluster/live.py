# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's live objects as pinotops reads and compares them: the kinds it manages, an index of them by
(kind, name), each without status and server bookkeeping; small readers of a node group's objects."""

from __future__ import annotations

import copy

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import instance_labels
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    LABEL_GROUP,
)

MANAGED_KINDS = ("ServiceMonitor", "StatefulSet", "PodDisruptionBudget", "Service", "ConfigMap")  # deletion order
# Custom resources: read only where the cluster serves them (a list of an unserved kind is a 404, and a role without
# rights on monitoring.coreos.com must keep working for descriptions that ask for no ServiceMonitor).
OPTIONAL_KINDS = ("ServiceMonitor",)
STRIPPED_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")


def normalise(obj):
    """What the comparison sees: the object without status and server bookkeeping."""
    if obj is None:
        return None
    result = copy.deepcopy(obj)
    result.pop("status", None)
    meta = result.get("metadata") or {}
    for key in STRIPPED_METADATA:
        meta.pop(key, None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    if result.get("kind") == "Secret":  # never shown, never compared in clear
        for key in ("data", "stringData"):
            if key in result:
                result[key] = {k: "********" for k in result[key]}
    return result


def _group_of(obj):
    return (obj["metadata"].get("labels") or {}).get(LABEL_GROUP)


def _config_maps_of(pod_spec):
    return {(v.get("configMap") or {}).get("name") for v in (pod_spec or {}).get("volumes") or []} - {None}


def _ordinal(pod):
    """A pod's ordinal, from the pod or from its entry in a group's status."""
    return int((pod["metadata"]["name"] if "metadata" in pod else pod["name"]).rsplit("-", 1)[1])


def managed_kinds(client):
    """MANAGED_KINDS less the custom resources the cluster does not serve."""
    return tuple(kind for kind in MANAGED_KINDS if kind not in OPTIONAL_KINDS or client.serves(kind))


def live_index(client, cluster):
    index = {}
    for kind in managed_kinds(client):
        for obj in client.list(kind, cluster["namespace"], instance_labels(cluster)):
            index[(kind, obj["metadata"]["name"])] = obj
    return index
