# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a Pinot cluster on Kubernetes: the engine behind pinot_cluster (pre-flight in preflight.py, the live objects
in live.py, pruning in prune.py, the groups' status and waits in groups.py).

Order of work, so that bad input never half-applies:
1. validate the description (spec.py), 2. pre-flight reads (namespace, zones on nodes, Secrets and keys),
3. read the live objects by label, refuse immutable StatefulSet changes with an explanation, 4. server-side
dry run of EVERY object (the apiserver validates and predicts the stored object), 5. only then write what
really differs (`changed` = live != dry-run prediction), role by role in deployment order, waiting between
roles when asked, 6. prune what is no longer described.
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import yaml
except ImportError:  # pragma: no cover - the kubernetes client, which every run needs, requires PyYAML
    yaml = None

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.groups import read_groups, wait_for
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.live import (
    _config_maps_of,
    _group_of,
    _ordinal,
    live_index,
    managed_kinds,
    normalise,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.preflight import (
    _field_of,
    immutable_changes,
    preflight,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.prune import delete_all, prunable
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import instance_labels, render_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import (
    select_groups,
    validate_partitions,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, diff_paths
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import (
    ANNOTATION_POOL,
    ANNOTATION_TAGS,
    LABEL_COMPONENT,
    ZOOKEEPER,
    instance_id,
    pod_name,
    sts_name,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sError
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.events import SOURCE, EventRecorder, paths_message
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.status import (
    pod_revision,
    rolled_pods,
)

DRY_RUN_WORKERS = 8


def keyed(value):
    """Lists of named mappings (containers, env, ports, volumes...) as mappings by name, so that change paths
    read `spec.template.spec.containers.pinot.env.JAVA_OPTS.value` rather than a whole list."""
    if isinstance(value, dict):
        return {key: keyed(item) for key, item in value.items()}
    if isinstance(value, list):
        names = [item.get("name") for item in value if isinstance(item, dict)]
        if value and len(names) == len(value) and all(isinstance(n, str) for n in names) \
                and len(set(names)) == len(names):
            return {item["name"]: keyed(item) for item in value}
        return [keyed(item) for item in value]
    return value


def change_paths(before, after):
    return diff_paths(keyed(before), keyed(after))


def ref(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _mounted_config(cluster, live, manifest):
    """For a node group's new config: (ref, object) of the config its StatefulSet mounts now, if any."""
    group = _group_of(manifest)
    if manifest["kind"] != "ConfigMap" or group is None:
        return None
    sts = live.get(("StatefulSet", sts_name(cluster["name"], group))) or {}
    for name in sorted(_config_maps_of(((sts.get("spec") or {}).get("template") or {}).get("spec"))):
        if ("ConfigMap", name) in live:
            return f"ConfigMap/{name}", normalise(live[("ConfigMap", name)])
    return None


# -- the runs --------------------------------------------------------------------------------------------

if yaml is not None:
    class _ManifestDumper(yaml.SafeDumper):
        """Multi-line strings (the rendered .conf files) as blocks, so a diff shows the lines that changed."""

    def _represent_str(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _ManifestDumper.add_representer(str, _represent_str)


def manifest_text(obj):
    """An object as kubectl shows it (YAML): Ansible's --diff then compares lines, not one JSON string."""
    if not obj:
        return ""
    return yaml.dump(obj, Dumper=_ManifestDumper, default_flow_style=False, sort_keys=True, width=1 << 20)


def _instances_of(sts, ordinals):
    meta, spec = sts["metadata"], sts.get("spec") or {}
    role = (meta.get("labels") or {}).get(LABEL_COMPONENT)
    return [instance_id(role, pod_name(meta["name"], n), spec.get("serviceName"), meta["namespace"]) for n in ordinals]


def _tags_of(sts):
    """The Pinot tags the node group's description gives its instances (None: Pinot's own)."""
    tags = (sts["metadata"].get("annotations") or {}).get(ANNOTATION_TAGS)
    return tags.split(",") if tags else None


def _pool_of(sts):
    """The Pinot pool the node group's description gives its servers (None: not managed)."""
    pool = (sts["metadata"].get("annotations") or {}).get(ANNOTATION_POOL)
    return int(pool) if pool else None


def instance_changes(planned, deletions):
    """The Pinot instances a run adds and removes, per node group: what Pinot must be told around it (drain before
    a pod goes, drop after it has gone, rebalance onto new servers), and every instance of a server group with a
    pool (whose pools are checked on every run). `planned`: (manifest, live object or None); `deletions`: the
    live objects pruned. A StatefulSet scales in from its highest ordinal."""
    found = []
    for manifest, current in planned:
        if manifest["kind"] != "StatefulSet":
            continue
        have = (current.get("spec") or {}).get("replicas", 1) if current else 0
        # No replicas in the description: another manager (an autoscaler) owns the count, the run keeps it.
        want = manifest["spec"].get("replicas", have or 1)
        if want != have or _pool_of(manifest) is not None:
            found.append((manifest, _instances_of(manifest, range(want)), _instances_of(manifest, range(have, want)),
                          _instances_of(manifest, range(want, have))))
    found += [(obj, [], [], _instances_of(obj, range((obj.get("spec") or {}).get("replicas", 1))))
              for obj in deletions if obj["kind"] == "StatefulSet"]
    return sorted(({"group": _group_of(sts), "role": sts["metadata"]["labels"].get(LABEL_COMPONENT),
                    "tags": _tags_of(sts), "pool": _pool_of(sts), "instances": instances, "added": added,
                    "removed": removed}
                   for sts, instances, added, removed in found if None not in instances + added + removed),
                  key=lambda c: c["group"])


class Outcome:
    """What a run did (or would do): per object action, change paths and diffs."""

    def __init__(self):
        self.objects = []
        self.changes = []
        self.diffs = []
        self.warnings = []
        self.instances = []
        self.restarts = []

    def record(self, action, obj_ref, before, after, replaces=None):
        """`replaces` (ref, object): what a created object takes over from, shown as its diff's "before" (a new
        config of a node group against the one its pods mount now, so the diff is the lines that changed)."""
        self.objects.append({"kind": obj_ref.split("/", 1)[0], "name": obj_ref.split("/", 1)[1], "action": action})
        if action == "unchanged":
            return
        if action == "created":
            self.changes.append(f"{obj_ref} (created)")
        elif action == "deleted":
            self.changes.append(f"{obj_ref} (deleted)")
        else:
            self.changes.extend(f"{obj_ref} {path}" for path in change_paths(before, after))
        before_ref, before = replaces or (obj_ref, before)
        self.diffs.append((before_ref, before, obj_ref, after))

    def diff(self):
        """Ansible's diff of every object that changes (rendered only when --diff asks for it)."""
        return [{"before_header": before_ref, "after_header": after_ref,
                 "before": manifest_text(before), "after": manifest_text(after)}
                for before_ref, before, after_ref, after in self.diffs]

    @property
    def changed(self):
        return any(o["action"] != "unchanged" for o in self.objects)


def present(client, cluster, *, node_groups=None, partitions=None, prune=True, delete_pvcs=False,
            wait=False, wait_timeout=600, check_mode=False, sleep=time.sleep, recorder=None):
    """Bring the cluster to the description. Returns (outcome, groups status). `recorder` (EventRecorder): an
    Event on every object written and on every pod the run's rollouts replaced."""
    started = time.monotonic()
    groups = select_groups(cluster, node_groups)
    with_zookeeper = bool(cluster["zookeeper"]["managed"]) and (node_groups is None or ZOOKEEPER in node_groups)
    partitions = validate_partitions(cluster, partitions)
    node_zones = preflight(client, cluster, groups)
    stages = render_cluster(cluster, None if node_groups is None else groups, partitions, zookeeper=with_zookeeper)
    live = live_index(client, cluster)
    reported = {g["name"] for g in groups} | ({ZOOKEEPER} if with_zookeeper else set())

    planned = plan(client, cluster, stages, live)
    predictions = predict(client, planned)
    outcome, to_write = compare(cluster, live, predictions)
    deletions = []
    if prune:
        deletions = prunable(client, cluster, live, planned, groups, full=node_groups is None, partitions=partitions,
                             wait=wait, delete_pvcs=delete_pvcs)
    for obj in deletions:
        outcome.record("deleted", ref(obj), normalise(obj), None)
    outcome.instances = instance_changes([(manifest, current) for _s, manifest, current in planned], deletions)

    if check_mode:
        delete_all(client, deletions, cluster["namespace"], None, dry_run=True)
        status = read_groups(client, cluster["name"], cluster["namespace"], reported, node_zones)
        outcome.restarts = pod_restarts(predictions, status, partitions)
        return outcome, status
    recorder = recorder or EventRecorder(client, enabled=False)
    pods = write_stages(client, cluster, to_write, outcome, recorder, stages=stages, groups=groups, wait=wait,
                        wait_timeout=wait_timeout, deadline=started + wait_timeout, sleep=sleep)
    delete_all(client, deletions, cluster["namespace"], recorder)
    outcome.warnings += recorder.warnings
    return outcome, read_groups(client, cluster["name"], cluster["namespace"], reported, node_zones, pods=pods)


def pod_restarts(predictions, groups, partitions):
    """The pods the run would restart, by StatefulSet, in deployment order: with the partition asked (default 0),
    a pod that stays and either gets a new template or still runs another revision than its StatefulSet's update
    revision (a rollout held or stopped). Each {group, role, pods (highest ordinal first), partition}: the
    partition that holds every one of them, so that nothing restarts (a new pod above it starts on the new
    template). `groups`: the groups' status now (read_groups)."""
    found = []
    for _stage, manifest, current, predicted in predictions:
        status = groups.get(_group_of(manifest))
        if manifest["kind"] != "StatefulSet" or current is None or status is None:
            continue
        before, after = normalise(current)["spec"], normalise(predicted)["spec"]
        new_template = before.get("template") != after.get("template")
        floor = (partitions or {}).get(_group_of(manifest)) or 0
        stays = min(before.get("replicas", 1), after.get("replicas", 1))
        pods = sorted((_ordinal(pod), pod["name"]) for pod in status["pods"] if floor <= _ordinal(pod) < stays
                      and (new_template or status["update_revision"] not in (None, pod["revision"])))
        if pods:
            found.append({"group": _group_of(manifest), "role": manifest["metadata"]["labels"].get(LABEL_COMPONENT),
                          "pods": [name for _o, name in reversed(pods)], "partition": pods[-1][0] + 1})
    return found


def plan(client, cluster, stages, live):
    """(stage, manifest, live object or None) for every rendered object; a StatefulSet change Kubernetes forbids
    fails here, before any write."""
    planned = []
    for stage, manifests in stages:
        for manifest in manifests:
            current = live.get((manifest["kind"], manifest["metadata"]["name"]))
            if current is None:
                current = client.get(manifest["kind"], manifest["metadata"]["name"], cluster["namespace"])
            if current is not None and manifest["kind"] == "StatefulSet":
                problems = immutable_changes(manifest, current)
                if problems:
                    raise SpecError(_field_of(cluster, manifest), (
                        f"StatefulSet {manifest['metadata']['name']}: Kubernetes forbids changing "
                        f"{'; '.join(problems)} of an existing StatefulSet. Nothing was written. Describe a new "
                        "node group for the new layout (and remove this one once its data has moved), or delete "
                        "the StatefulSet with --cascade=orphan so that it is re-created (its PVCs are kept)."))
            planned.append((stage, manifest, current))
    return planned


def predict(client, planned):
    """`planned` with what the apiserver would store for each object: every object is validated and predicted
    before anything is written (concurrently: dry runs write nothing, so their order does not matter)."""
    with ThreadPoolExecutor(max_workers=DRY_RUN_WORKERS) as pool:
        predicted_all = list(pool.map(lambda item: client.apply(item[1], dry_run=True), planned))
    return [(stage, manifest, current, predicted)
            for (stage, manifest, current), predicted in zip(planned, predicted_all, strict=True)]


def compare(cluster, live, predictions):
    """(outcome, {stage: [(manifest, expected stored form, live object or None)]}): what has to be written."""
    outcome = Outcome()
    to_write = {}
    for stage, manifest, current, predicted in predictions:
        before, after = normalise(current), normalise(predicted)
        if current is None:
            outcome.record("created", ref(manifest), None, after, replaces=_mounted_config(cluster, live, manifest))
        elif before != after:
            outcome.record("updated", ref(manifest), before, after)
        else:
            outcome.record("unchanged", ref(manifest), before, after)
            continue
        to_write.setdefault(stage, []).append((manifest, after, current))
    return outcome, to_write


def write_stages(client, cluster, to_write, outcome, recorder, *, stages, groups, wait, wait_timeout, deadline, sleep):
    """Write stage by stage (with `wait`, each stage's rollout waited for before the next), recording an Event
    per write and, after the waits, per pod the rollouts replaced. Returns the pods listed after the waits
    (None when it listed none)."""
    updated = [m for items in to_write.values() for m, _e, current in items if current is not None]
    rolling = wait and recorder.enabled and any(m["kind"] == "StatefulSet" for m in updated)
    pods_before = client.list("Pod", cluster["namespace"], instance_labels(cluster)) if rolling else []
    for stage, _manifests in stages:
        for manifest, expected, current in to_write.get(stage, []):
            created = current is None
            stored = write(client, manifest, current, cluster["namespace"], expected)
            verb = "Created" if created else "Updated"
            recorder.record(stored or manifest, verb,
                            paths_message(verb, [] if created else change_paths(normalise(current), expected)))
            # A created object gets server allocations (a Service's clusterIP) that a dry run cannot predict.
            if not created and normalise(stored) != expected:
                outcome.warnings.append(f"{ref(manifest)} was stored differently from the dry run at "
                                        f"{', '.join(change_paths(expected, normalise(stored))[:5])}")
        if wait:
            stage_groups = [ZOOKEEPER] if stage == ZOOKEEPER else [g["name"] for g in groups if g["role"] == stage]
            wait_for(client, cluster, stage_groups, timeout=wait_timeout, deadline=deadline, sleep=sleep)
    if not rolling:
        return None
    pods_after = client.list("Pod", cluster["namespace"], instance_labels(cluster))
    for pod, before in rolled_pods(pods_before, pods_after):
        recorder.record(pod, "Rolled", f"Replaced by the rollout of {_owner(pod)} that {SOURCE} applied "
                        f"(revision {pod_revision(before)} -> {pod_revision(pod)}); Ready")
    return pods_after


def _owner(pod):
    owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") == "StatefulSet"), {})
    return f"StatefulSet/{owner.get('name')}"


def write(client, manifest, current, namespace, expected=None, *, attempts=3):
    """Server-side apply pinned to the resourceVersion this run read, so that a change by another writer
    between read and write is never silently overwritten (forced SSA alone would take the fields back).

    A 409 is re-checked: when only status or bookkeeping moved (the StatefulSet controller), the write is
    retried on the new resourceVersion; when another writer already stored exactly what this run would (e.g. the
    module of an earlier, killed ansible-playbook still running), there is nothing to overwrite; otherwise the
    run stops and says where."""
    if current is None:
        return client.apply(manifest)
    pinned = copy.deepcopy(manifest)
    seen = current
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    for _attempt in range(attempts):
        pinned["metadata"]["resourceVersion"] = seen["metadata"]["resourceVersion"]
        try:
            return client.apply(pinned)
        except K8sError as exc:
            if exc.status != 409:
                raise
        latest = client.get(kind, name, namespace)
        if latest is not None and expected is not None and normalise(latest) == expected:
            return latest
        if latest is None or normalise(latest) != normalise(current):
            where = ", ".join(change_paths(normalise(current), normalise(latest))[:5]) if latest else "deleted"
            raise K8sError("apply", kind, name, 409, (
                f"changed by another writer since this run read it ({where}); nothing was overwritten. Run "
                "again: the difference will be reported and the description applied")) from None
        seen = latest
    raise K8sError("apply", kind, name, 409, f"still conflicting after {attempts} attempts; nothing was overwritten")


def absent(client, name, namespace, *, delete_pvcs=False, check_mode=False, recorder=None):
    """Delete every object of the cluster (found by its labels); PVCs only with delete_pvcs."""
    selector = instance_labels({"name": name})
    outcome = Outcome()
    found = []
    for kind in managed_kinds(client):
        found.extend(client.list(kind, namespace, selector))
    if delete_pvcs:
        found.extend(client.list("PersistentVolumeClaim", namespace, selector))
    for obj in found:
        outcome.record("deleted", ref(obj), normalise(obj), None)
    recorder = recorder or EventRecorder(client, enabled=False)
    delete_all(client, found, namespace, recorder, dry_run=check_mode)
    outcome.warnings += recorder.warnings
    return outcome
