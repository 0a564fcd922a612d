# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before the first write: everything the description refers to exists (namespace, nodes' zones, Secrets and
their keys, the ServiceMonitor CRD), and the StatefulSet changes Kubernetes forbids are explained."""

from __future__ import annotations

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import parse_quantity, secret_references
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    LABEL_GROUP,
    ZONE_LABEL,
    ZOOKEEPER,
)


def preflight(client, cluster, groups):
    """Everything the description refers to must exist before the first write. Returns {node: zone}."""
    namespace = cluster["namespace"]
    if client.get("Namespace", namespace) is None:
        raise SpecError("cluster.namespace", f"namespace {namespace!r} does not exist")
    node_zones = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_LABEL)
                  for n in client.list("Node")}
    known = sorted({z for z in node_zones.values() if z})
    index = {g["name"]: i for i, g in enumerate(cluster["node_groups"])}
    for group in groups:
        for zone in group["zones"]:
            if zone not in known:
                raise SpecError(f"cluster.node_groups[{index[group['name']]}].zones",
                                f"no node has the label {ZONE_LABEL}={zone}; zones of the nodes: "
                                f"{', '.join(known) or 'none (no node has a zone label)'}")
    monitored = [g for g in groups if (g.get("metrics") or {}).get("service_monitor")]
    if monitored and not client.serves("ServiceMonitor"):
        raise SpecError(f"cluster.node_groups[{index[monitored[0]['name']]}]", (
            "its metrics.service_monitor asks for a ServiceMonitor, but this cluster does not serve "
            "monitoring.coreos.com/v1 ServiceMonitor (the Prometheus Operator's CRDs are not installed). Nothing "
            "was written. Install the CRDs, or set metrics.service_monitor to false: the pods then get "
            "Prometheus' scrape annotations"))
    roles = {g["role"] for g in groups}
    checked = {}
    for ref in secret_references(cluster):  # secret_env's and the deep store's credentials
        if ref["optional"] or not roles & set(ref["roles"]):
            continue
        if ref["secret"] not in checked:
            secret = client.get("Secret", ref["secret"], namespace)
            # Keep only the key names: secret values never leave this function.
            checked[ref["secret"]] = None if secret is None else set((secret.get("data") or {}).keys()) | set(
                (secret.get("stringData") or {}).keys())
        keys = checked[ref["secret"]]
        if keys is None:
            raise SpecError(ref["secret_field"], f"Secret {ref['secret']!r} does not exist in namespace {namespace!r}")
        if ref["key"] not in keys:
            raise SpecError(ref["key_field"], f"Secret {ref['secret']!r} has no key {ref['key']!r}")
    return node_zones


def _claims(spec):
    result = []
    for claim in spec.get("volumeClaimTemplates") or []:
        cspec = claim.get("spec") or {}
        size = ((cspec.get("resources") or {}).get("requests") or {}).get("storage")
        result.append({"name": (claim.get("metadata") or {}).get("name"),
                       "accessModes": sorted(cspec.get("accessModes") or []),
                       "storage": parse_quantity(size) if size else None,
                       "storageClassName": cspec.get("storageClassName"), "_size": size})
    return result


def immutable_changes(desired, live):
    """Human-readable reasons why Kubernetes would refuse to update this StatefulSet in place."""
    dspec, lspec = desired["spec"], live.get("spec") or {}
    problems = []
    if dspec["selector"] != lspec.get("selector"):
        problems.append(f"spec.selector ({lspec.get('selector')} -> {dspec['selector']})")
    if dspec["serviceName"] != lspec.get("serviceName"):
        problems.append(f"spec.serviceName ({lspec.get('serviceName')} -> {dspec['serviceName']})")
    if dspec["podManagementPolicy"] != lspec.get("podManagementPolicy", "OrderedReady"):
        problems.append(f"spec.podManagementPolicy ({lspec.get('podManagementPolicy')} -> "
                        f"{dspec['podManagementPolicy']})")
    dclaims, lclaims = _claims(dspec), _claims(lspec)
    if len(dclaims) != len(lclaims):
        problems.append("spec.volumeClaimTemplates (persistent storage added or removed)")
    else:
        for want, have in zip(dclaims, lclaims, strict=True):
            for key in ("name", "accessModes", "storage"):
                if want[key] != have[key]:
                    shown = "_size" if key == "storage" else key
                    problems.append(f"spec.volumeClaimTemplates[{want['name']}].{key} ({have[shown]} -> "
                                    f"{want[shown]})")
            if want["storageClassName"] and want["storageClassName"] != have["storageClassName"]:
                problems.append(f"spec.volumeClaimTemplates[{want['name']}].storageClassName "
                                f"({have['storageClassName']} -> {want['storageClassName']})")
    return problems


def _field_of(cluster, manifest):
    group = (manifest["metadata"].get("labels") or {}).get(LABEL_GROUP)
    if group == ZOOKEEPER and cluster["zookeeper"]["managed"]:
        return "cluster.zookeeper.managed"
    for i, g in enumerate(cluster["node_groups"]):
        if g["name"] == group:
            return f"cluster.node_groups[{i}]"
    return "cluster"
