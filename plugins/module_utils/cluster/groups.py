# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node groups' status, and waiting for their rollouts (kube/status.py judges each object): what
pinot_cluster reports and pinot_cluster_info reads."""

from __future__ import annotations

import contextlib
import time

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import instance_labels
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    LABEL_COMPONENT,
    LABEL_GROUP,
    ZONE_LABEL,
    client_service_name,
    instance_id,
    service_host,
    sts_name,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sError
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.status import (
    last_pod_events,
    pod_ready,
    pod_revision,
    rollout_status,
    waiting_reason,
)


class WaitTimeout(Exception):
    def __init__(self, pending, seconds, unready=None):
        self.pending = pending
        self.seconds = seconds
        self.unready = unready or []
        lines = "; ".join(f"{name}: {why}" for name, why in sorted(pending.items()))
        pods = f"; pods not Ready: {', '.join(unready)}" if unready else ""
        super().__init__(f"rollout not complete after {seconds}s: {lines}{pods}")


def group_status(sts, pods, node_zones):
    spec = sts.get("spec") or {}
    status = sts.get("status") or {}
    done, message = rollout_status(sts)
    name = sts["metadata"]["name"]
    role = (sts["metadata"].get("labels") or {}).get(LABEL_COMPONENT)
    own = [p for p in pods if (p.get("metadata") or {}).get("name", "").rsplit("-", 1)[0] == name
           and any(o.get("kind") == "StatefulSet" and o.get("name") == name
                   for o in p["metadata"].get("ownerReferences") or [])]
    return {
        "statefulset": name,
        "replicas": spec.get("replicas"),
        "ready": status.get("readyReplicas") or 0,
        "updated": status.get("updatedReplicas") or 0,
        "current_revision": status.get("currentRevision"),
        "update_revision": status.get("updateRevision"),
        "partition": ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0),
        "generation": sts["metadata"].get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "rollout_complete": done,
        "message": message,
        "image": ((spec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0].get("image"),
        "pods": [{
            "name": p["metadata"]["name"],
            "instance": instance_id(role, p["metadata"]["name"], spec.get("serviceName"), sts["metadata"]["namespace"]),
            "revision": pod_revision(p),
            "image": ((p.get("spec") or {}).get("containers") or [{}])[0].get("image"),
            "ready": pod_ready(p),
            "phase": (p.get("status") or {}).get("phase"),
            "waiting": None if pod_ready(p) else waiting_reason(p),
            "node": (p.get("spec") or {}).get("nodeName"),
            "zone": node_zones.get((p.get("spec") or {}).get("nodeName")),
        } for p in sorted(own, key=lambda p: p["metadata"]["name"])],
    }


def all_pods_ready(groups):
    """Whether every group has all the pods its StatefulSet asks for, each of them Ready (a rollout left by an
    interrupted run has settled)."""
    return all(len(g["pods"]) >= (g["replicas"] or 0) and all(p["ready"] for p in g["pods"])
               for g in groups.values())


def explain_wait_timeout(client, cluster, exc):
    """(the WaitTimeout naming each pod that is not Ready, why, and the last Event about it; the groups' status
    read now): what a user needs to act on a stuck rollout. Reads that fail leave the explanation shorter."""
    status, events = {}, {}
    with contextlib.suppress(K8sError):
        status = read_groups(client, cluster["name"], cluster["namespace"])
    with contextlib.suppress(K8sError):  # Events are a hint; a role without access to them still fails clearly
        events = last_pod_events(client.list("Event", cluster["namespace"]))
    unready = [f"{pod['name']} ({pod['waiting']}" + (f"; last event {events[pod['name']]})" if pod["name"] in events
                                                     else ")")
               for group in sorted(exc.pending)
               for pod in (status.get(group) or {}).get("pods", []) if not pod["ready"]]
    return WaitTimeout(exc.pending, exc.seconds, unready), status


def read_groups(client, name, namespace, group_names=None, node_zones=None, *, pods=None):
    """Status of every StatefulSet of the cluster (or of the named groups): {group: status}. `pods`: the
    cluster's pods when the caller has just listed them."""
    selector = instance_labels({"name": name})
    statefulsets = client.list("StatefulSet", namespace, selector)
    if pods is None:
        pods = client.list("Pod", namespace, selector)
    if node_zones is None:
        node_zones = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_LABEL)
                      for n in client.list("Node")}
    result = {}
    for sts in statefulsets:
        group = (sts["metadata"].get("labels") or {}).get(LABEL_GROUP)
        if group and (group_names is None or group in group_names):
            result[group] = group_status(sts, pods, node_zones)
    return result


def read_services(client, cluster):
    """The cluster's client Services by role (and `zookeeper`): name, cluster_ip (None until allocated), ports by
    name and the in-cluster URL of the first port."""
    result = {}
    for service in client.list("Service", cluster["namespace"], instance_labels(cluster)):
        meta, spec = service["metadata"], service.get("spec") or {}
        role = (meta.get("labels") or {}).get(LABEL_COMPONENT)
        if not role or meta["name"] != client_service_name(cluster["name"], role) or not spec.get("ports"):
            continue  # headless Services are per group
        ports = {p.get("name") or str(p["port"]): p["port"] for p in spec["ports"]}
        cluster_ip = spec.get("clusterIP")
        result[role] = {"name": meta["name"], "cluster_ip": cluster_ip if cluster_ip not in (None, "None") else None,
                        "ports": ports,
                        "url": f"http://{service_host(meta['name'], cluster['namespace'])}:{spec['ports'][0]['port']}"}
    return result


def wait_for(client, cluster, group_names, *, timeout, deadline, sleep=time.sleep, poll=1.0):
    """Until every named group's rollout is complete: list the StatefulSets, then watch them from that list
    (as `kubectl rollout status` does) so a change is seen when it happens; poll when a watch cannot run.
    WaitTimeout lists what is pending."""
    names = {sts_name(cluster["name"], g): g for g in group_names}
    selector = instance_labels(cluster)
    while True:
        pending = {}
        try:
            listed, version = client.list_versioned("StatefulSet", cluster["namespace"], selector)
        except K8sError as exc:
            # The apiserver is unreachable (restart, blip) even after the client's retries: while waiting, that
            # is one more reason to wait, until the deadline; then its error is the clear message.
            if exc.status is not None or time.monotonic() >= deadline:
                raise
            sleep(min(max(poll, 2.0), max(0.0, deadline - time.monotonic())))
            continue
        found = {s["metadata"]["name"]: s for s in listed}
        for sts, group in names.items():
            if sts not in found:
                pending[group] = "StatefulSet not found"
                continue
            done, message = rollout_status(found[sts])
            if not done:
                pending[group] = message
        if not pending:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(pending, timeout)
        if not client.watch_change("StatefulSet", cluster["namespace"], selector, version, min(remaining, 60)):
            sleep(min(poll, max(0.0, deadline - time.monotonic())))
