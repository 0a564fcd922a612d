# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pinot_cluster and pinot_cluster_info do around the apply flow: connect, run, report, fail cleanly
(the Kubernetes side's counterpart of pinot/module.py)."""

from __future__ import annotations

import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.apply import absent, present
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.groups import (
    WaitTimeout,
    all_pods_ready,
    explain_wait_timeout,
    read_groups,
    read_services,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.live import managed_kinds
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.progress import PROGRESS_FILE_ENV, PlayChannel
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import instance_labels
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout import (
    KubernetesSide,
    PinotSide,
    Rollout,
    RolloutStopped,
    planned_groups,
    validate_options,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.rollout_plan import step_targets
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.shapes import Cluster, GroupStatus
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import (
    normalise_cluster,
    normalise_identity,
    without_unset,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, fail_cleanly, require_library
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import LABEL_COMPONENT, LABEL_GROUP
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import (
    KUBERNETES_IMPORT_ERROR,
    K8sClient,
    K8sError,
    reveal_kubeconfig,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.events import EventRecorder
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import (
    REQUESTS_IMPORT_ERROR,
    PinotClient,
    PinotError,
)


def connect(module):
    require_library(module, "kubernetes", KUBERNETES_IMPORT_ERROR)
    reveal_kubeconfig(module)  # from here on errors name the kubeconfig file; a dict's credentials stay hidden
    return K8sClient.from_params(module.params)


def fail(module, client, exc, **extra):
    """As for the Pinot modules, with the request counts and the status Kubernetes answered (when it did)."""
    status = {"status": exc.status} if getattr(exc, "status", None) else {}
    fail_cleanly(module, exc, client.executed_requests if client else [],
                 request_counts=client.counts if client else {}, **extra, **status)


def role_flow(cluster: Cluster, groups: dict[str, GroupStatus],
              instance_map: dict[str, dict[str, str]]) -> tuple[list[str], dict[str, list[str]], list[dict[str, Any]]]:
    """What the pinot_cluster role steps through, so that its tasks only loop: (the roles that have node groups, in
    the description's deployment order; the names of each role's node groups, in description order; the Pinot gate
    target of every pod of the Pinot node groups in `groups`, the run's status report: {group, role, pod, instance,
    health_url}, the instance `instance_map` names for the pod, its group or its role, else the one the pod
    registers under). The order is the rollout's (rollout.planned_groups), the targets its steps' (rollout_plan)."""
    roles, ordered = planned_groups(cluster)
    by_role = {role: [group["name"] for group in ordered if group["role"] == role] for role in roles}
    targets = []
    for group in ordered:
        pods = (groups.get(group["name"]) or {}).get("pods") or []
        try:
            found = step_targets([pod["name"] for pod in pods], {pod["name"]: pod["instance"] for pod in pods},
                                 instance_map, group["name"], group["role"])
        except ValueError as exc:  # a pod that is no Pinot instance (its StatefulSet lost its role label)
            raise SpecError("instance_map", str(exc)) from None
        targets += [dict({"group": group["name"], "role": group["role"], "health_url": None}, **target)
                    for target in found]
    return roles, by_role, targets


def run_cluster(module: AnsibleModule) -> None:
    """pinot_cluster: validate, connect, apply or remove, report."""
    params = module.params
    started = time.monotonic()
    client = None
    try:
        if params["state"] == "absent":
            name, namespace = normalise_identity(params["cluster"])
            cluster = None
        else:
            # Before connecting: bad input costs no request. Without the None Ansible gave the fields left out.
            cluster = normalise_cluster(without_unset(params["cluster"], module.argument_spec["cluster"]["options"]))
            validate_options(cluster, {"instance_map": params["instance_map"]})  # what pinot_cluster_rollout refuses
            name, namespace = cluster["name"], cluster["namespace"]
        client = connect(module)
        recorder = EventRecorder(client, enabled=params["events"])
        groups, services, flow = {}, {}, ([], {}, [])
        if cluster is None:
            outcome = absent(client, name, namespace, delete_pvcs=params["delete_pvcs"],
                             check_mode=module.check_mode, recorder=recorder)
        else:
            outcome, groups = present(
                client, cluster, node_groups=params["node_groups"], partitions=params["partitions"],
                prune=params["prune"], delete_pvcs=params["delete_pvcs"], wait=params["wait"],
                wait_timeout=params["wait_timeout"], check_mode=module.check_mode, recorder=recorder)
            services = read_services(client, cluster)
            flow = role_flow(cluster, groups, params["instance_map"])
    except WaitTimeout as exc:
        exc, status = explain_wait_timeout(client, cluster, exc)
        fail(module, client, exc, pending=exc.pending, groups=status)
    except (SpecError, K8sError) as exc:
        fail(module, client, exc)
    for warning in outcome.warnings:
        module.warn(warning)
    result = dict(
        changed=outcome.changed,
        changes=outcome.changes,
        objects=outcome.objects,
        instances=outcome.instances,
        restarts=outcome.restarts,
        groups=groups,
        services=services,
        order=flow[0],
        groups_by_role=flow[1],
        gate_targets=flow[2],
        events=recorder.recorded,
        executed_requests=client.executed_requests,
        request_counts=client.counts,
        elapsed_seconds=round(time.monotonic() - started, 3),
    )
    if module._diff:
        result["diff"] = outcome.diff()
    module.exit_json(**result)


def run_cluster_info(module: AnsibleModule) -> None:
    """pinot_cluster_info: the cluster's objects and rollout status per node group; never writes."""
    params = module.params
    client = None
    try:
        name, namespace = normalise_identity({"name": params["name"], "namespace": params["namespace"]}, "")
        client = connect(module)
        names = set(params["node_groups"]) if params["node_groups"] else None
        groups = read_groups(client, name, namespace, names)
        objects = []
        for kind in managed_kinds(client) + ("PersistentVolumeClaim",):
            for obj in client.list(kind, namespace, instance_labels({"name": name})):
                labels = obj["metadata"].get("labels") or {}
                if names is None or labels.get(LABEL_GROUP) in names:
                    objects.append({"kind": kind, "name": obj["metadata"]["name"],
                                    "node_group": labels.get(LABEL_GROUP),
                                    "component": labels.get(LABEL_COMPONENT)})
    except (SpecError, K8sError) as exc:
        fail(module, client, exc)
    module.exit_json(changed=False, exists=bool(objects), groups=groups, objects=objects,
                     all_rollouts_complete=all(g["rollout_complete"] for g in groups.values()),
                     all_pods_ready=all_pods_ready(groups),
                     request_counts=client.counts)


def run_cluster_event(module: AnsibleModule) -> None:
    """pinot_cluster_event: one Event per named object (looked up for its uid); check mode records none."""
    params = module.params
    client = None
    try:
        client = connect(module)
        recorder = EventRecorder(client, dry_run=module.check_mode)
        for name in params["names"]:
            involved = client.get(params["kind"], name, params["namespace"]) or {
                "kind": params["kind"], "apiVersion": "apps/v1" if params["kind"] == "StatefulSet" else "v1",
                "metadata": {"name": name, "namespace": params["namespace"]}}
            recorder.record(involved, params["reason"], params["note"], params["type"])
        if recorder.error:  # recording is this module's one job
            raise recorder.error
    except K8sError as exc:
        fail(module, client, exc)
    module.exit_json(changed=bool(recorder.recorded), events=recorder.recorded, request_counts=client.counts)


def run_cluster_rollout(module: AnsibleModule) -> None:
    """pinot_cluster_rollout: every option validated before the first request, then one run of the rollout."""
    params = module.params
    started = time.monotonic()
    play = PlayChannel(os.environ.get(PROGRESS_FILE_ENV))
    k8s = pinot = rollout = recorder = None
    try:
        cluster = normalise_cluster(without_unset(params["cluster"], module.argument_spec["cluster"]["options"]))
        validate_options(cluster, params)
        require_library(module, "requests", REQUESTS_IMPORT_ERROR)
        k8s = connect(module)
        pinot = PinotClient.from_params(params["pinot"])
        recorder = EventRecorder(k8s, enabled=params["events"] and not module.check_mode)
        rollout = Rollout(
            KubernetesSide(k8s, cluster, rollout_timeout=params["rollout_timeout"], recorder=recorder),
            PinotSide(pinot, dict(params["pinot"], health_url_credentials=params["health_url_credentials"])),
            cluster, params, check_mode=module.check_mode, report=play, warn=module.warn, gone=play.gone)
        outcome = rollout.run()
    except (RolloutStopped, SpecError, K8sError, PinotError) as exc:
        sent = (k8s.executed_requests if k8s else []) + (pinot.executed_requests if pinot else [])
        stopped = {"stopped": exc.stop} if isinstance(exc, RolloutStopped) else {}
        fail_cleanly(module, exc, sent, progress=play.lines, steps=rollout.steps if rollout else [],
                     events=recorder.recorded if recorder else [], **stopped)
    for warning in recorder.warnings:
        module.warn(warning)
    result = dict(outcome, changed=bool(outcome["changes"]), progress=play.lines, events=recorder.recorded,
                  executed_requests=k8s.executed_requests + pinot.executed_requests,
                  request_counts={"kubernetes": k8s.counts,
                                  "pinot": {"reads": pinot.read_count, "writes": len(pinot.executed_requests)}},
                  elapsed_seconds=round(time.monotonic() - started, 3))
    if module._diff:
        result["diff"] = rollout.diffs
    module.exit_json(**result)
