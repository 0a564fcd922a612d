import copy
import difflib
import time
import types

import pytest
import yaml
from cluster_fixtures import description

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.apply import (
    Outcome,
    change_paths,
    instance_changes,
    pod_restarts,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.groups import (
    WaitTimeout,
    all_pods_ready,
    group_status,
    read_services,
    wait_for,
)
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.live import normalise
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.module import fail
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.preflight import immutable_changes, preflight
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.prune import stale_config_maps
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import render_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster, select_groups
from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import ZONE_LABEL, instance_id
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8sError


class FailingModule:
    def fail_json(self, **details):
        self.details = details
        raise SystemExit(1)


@pytest.mark.parametrize("sent", [[], ["PATCH /api/v1/namespaces/pinot/configmaps/pinot-server-config-0123456789"]])
def test_a_failure_is_changed_exactly_when_something_was_written(sent):
    """The rule of the Pinot modules too: what a failed run already wrote is reported, and makes it changed."""
    module, client = FailingModule(), types.SimpleNamespace(executed_requests=sent, counts={"writes": len(sent)})
    with pytest.raises(SystemExit):
        fail(module, client, K8sError("apply", "StatefulSet", "pinot-server", 409, "conflict"))
    assert module.details["changed"] is bool(sent)
    assert module.details["executed_requests"] == sent
    assert module.details["status"] == 409


def test_normalise_strips_server_bookkeeping_and_masks_secrets():
    metadata = {"name": "a", "resourceVersion": "5", "uid": "u", "generation": 1, "creationTimestamp": "t",
                "managedFields": [{}], "annotations": {}}
    live = {"kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}, "status": {"x": 1}}
    assert normalise(live) == {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    assert live["metadata"]["uid"] == "u"  # a copy
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "c2VjcmV0"}}
    assert normalise(secret)["data"] == {"password": "********"}


def test_change_paths_name_list_items():
    before = {"spec": {"containers": [{"name": "pinot", "image": "a", "env": [{"name": "JAVA_OPTS", "value": "1"}]}],
                       "replicas": 2}}
    after = copy.deepcopy(before)
    after["spec"]["containers"][0]["image"] = "b"
    after["spec"]["containers"][0]["env"][0]["value"] = "2"
    after["spec"]["replicas"] = 3
    assert change_paths(before, after) == ["spec.containers.pinot.env.JAVA_OPTS.value",
                                           "spec.containers.pinot.image", "spec.replicas"]


def statefulset(desc):
    cluster = normalise_cluster(desc)
    return {f"{m['kind']}/{m['metadata']['name']}": m for _s, items in render_cluster(cluster) for m in items}


def test_immutable_changes_are_explained():
    live = statefulset(description())["StatefulSet/pinot-server-hot-a"]
    live = copy.deepcopy(live)
    live["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "102400Mi"  # == 100Gi
    live["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] = "Filesystem"  # server default
    assert immutable_changes(statefulset(description())["StatefulSet/pinot-server-hot-a"], live) == []
    desc = description()
    desc["profiles"]["hot"]["storage"]["size"] = "200Gi"
    problems = immutable_changes(statefulset(desc)["StatefulSet/pinot-server-hot-a"], live)
    assert problems == ["spec.volumeClaimTemplates[data].storage (102400Mi -> 200Gi)"]
    desc = description()
    desc["profiles"]["hot"]["storage"] = None
    problems = immutable_changes(statefulset(desc)["StatefulSet/pinot-server-hot-a"], live)
    assert problems == ["spec.volumeClaimTemplates (persistent storage added or removed)"]
    changed = copy.deepcopy(live)
    changed["spec"]["selector"]["matchLabels"]["pinotops.io/node-group"] = "old"
    changed["spec"]["podManagementPolicy"] = "Parallel"
    problems = immutable_changes(statefulset(description())["StatefulSet/pinot-server-hot-a"], changed)
    assert [p.split(" ")[0] for p in problems] == ["spec.selector", "spec.podManagementPolicy"]


def managed_zookeeper():
    desc = description()
    desc["zookeeper"] = {"managed": {"replicas": 1}}
    return normalise_cluster(desc)


def test_the_managed_zookeeper_can_be_applied_on_its_own():
    cluster = managed_zookeeper()
    assert select_groups(cluster, ["zookeeper"]) == []
    stages = render_cluster(cluster, [], zookeeper=True)
    assert [stage for stage, _m in stages] == ["zookeeper"]
    # A group run leaves it alone unless asked; a full run starts with it.
    assert [s for s, _m in render_cluster(cluster, select_groups(cluster, ["minion"]))] == ["minion"]
    assert [s for s, _m in render_cluster(cluster)][0] == "zookeeper"
    with pytest.raises(SpecError, match=r"node_groups\[0\]: 'zookeeper' is not a node group"):
        select_groups(normalise_cluster(description()), ["zookeeper"])


def test_pods_report_the_helix_instance_they_register_as():
    live = copy.deepcopy(statefulset(description())["StatefulSet/pinot-server-hot-a"])
    live["status"] = {}
    pods = [{"metadata": {"name": f"pinot-server-hot-a-{i}",
                          "ownerReferences": [{"kind": "StatefulSet", "name": "pinot-server-hot-a"}]},
             "spec": {"nodeName": "n1"}, "status": {}} for i in (1, 0)]
    status = group_status(live, pods, {"n1": "zone-a"})
    assert [p["instance"] for p in status["pods"]] == [
        "Server_pinot-server-hot-a-0.pinot-server-hot-a-headless.analytics.svc.cluster.local_8098",
        "Server_pinot-server-hot-a-1.pinot-server-hot-a-headless.analytics.svc.cluster.local_8098"]
    assert instance_id("zookeeper", "pinot-zookeeper-0", "pinot-zookeeper-headless", "analytics") is None


class ListingClient:
    def __init__(self, objects):
        self.objects = objects

    def list(self, kind, namespace=None, labels=None):
        return [o for o in self.objects if o["kind"] == kind]


class RevisionClient(ListingClient):
    def __init__(self, objects, revisions):
        super().__init__(objects)
        self.revisions = revisions

    def get(self, kind, name, namespace=None):
        assert kind == "ControllerRevision"
        return self.revisions.get(name)


def config_map(name, group="server-hot-a"):
    return {"kind": "ConfigMap", "metadata": {"name": name, "labels": {"pinotops.io/node-group": group}}}


def mounting(pod, config):
    owner = {"kind": "StatefulSet", "name": pod.rsplit("-", 1)[0]}
    return {"kind": "Pod", "metadata": {"name": pod, "ownerReferences": [owner]},
            "spec": {"volumes": [{"name": "config", "configMap": {"name": config}}, {"name": "data"}]}}


def stale(pods, *, partition=None, wait=True, current="rev-old", revisions=None):
    cluster = normalise_cluster(description())
    groups = select_groups(cluster, ["server-hot-a"])
    live = {("ConfigMap", n): config_map(n) for n in ("cfg-old", "cfg-older", "cfg-new")}
    live[("ConfigMap", "cfg-other-group")] = config_map("cfg-other-group", "broker-a")
    live[("StatefulSet", "pinot-server-hot-a")] = {"status": {"currentRevision": current}}
    client = RevisionClient(pods, revisions or {})
    found = stale_config_maps(client, cluster, live, {("ConfigMap", "cfg-new")}, groups,
                              partitions={"server-hot-a": partition} if partition is not None else {}, wait=wait)
    return sorted(o["metadata"]["name"] for o in found)


def test_a_config_no_pod_will_mount_after_the_run_is_stale():
    # Waited for and not held, every pod ends on the new config: both old ones go; other groups are not judged.
    assert stale([mounting("pinot-server-hot-a-0", "cfg-old"), mounting("pinot-server-hot-a-1", "cfg-new")]) == [
        "cfg-old", "cfg-older"]


def test_pods_held_below_the_partition_keep_their_config_and_so_does_the_current_revision():
    pods = [mounting("pinot-server-hot-a-0", "cfg-old"), mounting("pinot-server-hot-a-1", "cfg-new")]
    assert stale(pods, partition=1) == ["cfg-older"]
    # A held pod that is away (evicted) comes back from the current revision: its config stays too.
    revision = {"data": {"spec": {"template": {"spec": {"volumes": [{"configMap": {"name": "cfg-older"}}]}}}}}
    assert stale(pods[1:], partition=1, revisions={"rev-old": revision}) == ["cfg-old"]


def test_without_waiting_every_config_a_pod_mounts_stays():
    assert stale([mounting("pinot-server-hot-a-0", "cfg-old")], wait=False) == ["cfg-older"]


def test_services_are_reported_by_role_with_their_address():
    cluster = managed_zookeeper()
    rendered = [m for _s, items in render_cluster(cluster) for m in items if m["kind"] == "Service"]
    for service in rendered:
        if service["spec"].get("clusterIP") != "None":
            service["spec"]["clusterIP"] = "10.96.0.9"
    services = read_services(ListingClient(rendered), cluster)
    assert sorted(services) == ["broker", "controller", "minion", "server", "zookeeper"]
    assert services["controller"] == {"name": "pinot-controller", "cluster_ip": "10.96.0.9", "ports": {"http": 9000},
                                      "url": "http://pinot-controller.analytics.svc.cluster.local:9000"}
    assert services["zookeeper"]["ports"] == {"client": 2181}


def test_a_diff_shows_each_changed_conf_line_as_a_line_of_its_own():
    before = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"pinot-server.conf": "a=1\nb=2\nc=3\n"}}
    after = copy.deepcopy(before)
    after["data"]["pinot-server.conf"] = "a=1\nb=20\nc=3\n"
    outcome = Outcome()
    outcome.record("updated", "ConfigMap/x", before, after)
    [diff] = outcome.diff()
    changed = [line for line in difflib.ndiff(diff["before"].splitlines(), diff["after"].splitlines())
               if line[:1] in "+-"]
    assert changed == ["-     b=2", "+     b=20"]
    assert yaml.safe_load(diff["before"]) == before and yaml.safe_load(diff["after"]) == after
    outcome.record("created", "ConfigMap/y", None, after)
    assert outcome.diff()[1]["before"] == ""
    # A node group's new config is shown against the one its pods mount now: the changed line again.
    renamed = copy.deepcopy(after)
    renamed["metadata"]["name"] = "x-2"
    outcome.record("created", "ConfigMap/x-2", None, renamed, replaces=("ConfigMap/x", before))
    diff = outcome.diff()[2]
    assert (diff["before_header"], diff["after_header"]) == ("ConfigMap/x", "ConfigMap/x-2")
    changed = [line for line in difflib.ndiff(diff["before"].splitlines(), diff["after"].splitlines())
               if line[:1] in "+-"]
    assert changed == ["-     b=2", "+     b=20", "-   name: x", "+   name: x-2"]
    assert outcome.changes[-1] == "ConfigMap/x-2 (created)"


def test_instance_changes_name_the_pods_a_run_adds_and_removes():
    """Scale-out adds the new ordinals, scale-in removes the highest ones, a pruned group removes every pod; groups
    that keep their size and the ZooKeeper (no Pinot instance) are not listed, unless they are server groups with
    a pool: their instances are listed for the pools to be checked."""
    unzoned = description()
    for group in unzoned["node_groups"]:
        group.pop("zone", None), group.pop("zones", None), group.pop("pool", None)
    live = statefulset(unzoned)
    desc = copy.deepcopy(unzoned)
    groups = {g["name"]: g for g in desc["node_groups"]}
    groups["server-hot-a"]["replicas"] = 3
    groups["server-hot-b"]["replicas"] = 1
    desc["node_groups"] = [g for g in desc["node_groups"] if g["name"] != "broker-b"]
    wanted = statefulset(desc)
    planned = [(m, live.get(key)) for key, m in wanted.items()]
    pruned = [live["StatefulSet/pinot-broker-b"]]

    def server(group, n):
        return instance_id("server", f"pinot-{group}-{n}", f"pinot-{group}-headless", "analytics")

    assert instance_changes(planned, pruned) == [
        {"group": "broker-b", "role": "broker", "tags": None, "pool": None, "instances": [], "added": [],
         "removed": [instance_id("broker", "pinot-broker-b-0", "pinot-broker-b-headless", "analytics")]},
        {"group": "server-hot-a", "role": "server", "tags": ["hot_OFFLINE", "hot_REALTIME"], "pool": None,
         "instances": [server("server-hot-a", n) for n in range(3)], "added": [server("server-hot-a", 2)],
         "removed": []},
        {"group": "server-hot-b", "role": "server", "tags": None, "pool": None,
         "instances": [server("server-hot-b", 0)], "added": [], "removed": [server("server-hot-b", 1)]},
    ]
    assert instance_changes([(m, m) for m in live.values()], []) == []
    autoscaled = copy.deepcopy(live["StatefulSet/pinot-server-hot-a"])
    del autoscaled["spec"]["replicas"]  # replicas left to an autoscaler: the live count stays
    assert instance_changes([(autoscaled, dict(live["StatefulSet/pinot-server-hot-a"], spec={"replicas": 5}))],
                            []) == []
    new = [(m, None) for key, m in live.items() if key == "StatefulSet/pinot-server-hot-a"]
    added = [server("server-hot-a", 0), server("server-hot-a", 1)]
    assert instance_changes(new, []) == [{"group": "server-hot-a", "role": "server", "removed": [], "pool": None,
                                          "tags": ["hot_OFFLINE", "hot_REALTIME"], "instances": added,
                                          "added": added}]
    # Zoned server groups have pools: every instance is listed, so a pool that drifted is seen without a scaling.
    zoned = statefulset(description())
    listed = instance_changes([(m, m) for m in zoned.values()], [])
    assert [(c["group"], c["pool"], len(c["instances"]), c["added"], c["removed"]) for c in listed] == [
        ("server-cold-c", 2, 1, [], []), ("server-hot-a", 0, 2, [], []), ("server-hot-b", 1, 2, [], [])]


def restarted(changes, *, replicas=2, revisions=("r1", "r1"), update="r1", partitions=None):
    """pod_restarts of server-hot-a (2 pods live) and broker-a (untouched): `changes` edit the predicted
    StatefulSet of server-hot-a."""
    live = statefulset(description())
    predictions = []
    for key in ("StatefulSet/pinot-broker-a", "ConfigMap/pinot-server-hot-a-config", "StatefulSet/pinot-server-hot-a"):
        current = next(m for k, m in live.items() if k.startswith(key))
        predicted = copy.deepcopy(current)
        if key == "StatefulSet/pinot-server-hot-a":
            changes(predicted["spec"])
        predictions.append(("server", current, current, predicted))
    pods = [{"name": f"pinot-server-hot-a-{o}", "revision": rev} for o, rev in enumerate(revisions)]
    broker = [{"name": "pinot-broker-a-0", "revision": "b1"}]
    groups = {"server-hot-a": {"replicas": replicas, "update_revision": update, "pods": pods},
              "broker-a": {"replicas": 1, "update_revision": "b1", "pods": broker}}
    return pod_restarts(predictions, groups, partitions)


def new_image(spec):
    spec["template"]["spec"]["containers"][0]["image"] = "apachepinot/pinot:9.9.9"


def test_a_new_template_restarts_every_pod_that_stays_and_a_partition_holds_them():
    assert restarted(new_image) == [{"group": "server-hot-a", "role": "server",
                                     "pods": ["pinot-server-hot-a-1", "pinot-server-hot-a-0"], "partition": 2}]
    # Scaled out: the new pod starts on the new template; scaled in: the pod that goes is not restarted.
    for replicas in (3, 1):
        def scaled(spec, replicas=replicas):
            new_image(spec)
            spec["replicas"] = replicas
        found = restarted(scaled)
        assert [(r["pods"], r["partition"]) for r in found] == [
            (["pinot-server-hot-a-1", "pinot-server-hot-a-0"][2 - min(2, replicas):], min(2, replicas))]
    # At a partition asked for, the pods below it keep their revision.
    assert restarted(new_image, partitions={"server-hot-a": 1})[0]["pods"] == ["pinot-server-hot-a-1"]


def test_a_rollout_held_or_stopped_restarts_the_pods_left_on_another_revision():
    def unchanged(spec):
        pass

    assert restarted(unchanged) == []
    assert restarted(unchanged, revisions=("r1", "r2"), update="r2") == [
        {"group": "server-hot-a", "role": "server", "pods": ["pinot-server-hot-a-0"], "partition": 1}]
    # A StatefulSet its controller has not reported on yet: no revision to judge by.
    assert restarted(unchanged, update=None) == []
    # A change besides the template (replicas, a label) restarts nothing.
    assert restarted(lambda spec: spec.update(replicas=3)) == []


def test_the_managed_zookeeper_is_named_by_its_role():
    """Not a Pinot node group: the pinot_cluster role cannot hold it at a partition, so it tells it apart."""
    current = next(m for _s, items in render_cluster(managed_zookeeper()) for m in items
                   if m["kind"] == "StatefulSet" and m["metadata"]["name"] == "pinot-zookeeper")
    predicted = copy.deepcopy(current)
    new_image(predicted["spec"])
    status = {"zookeeper": {"update_revision": "z1", "pods": [{"name": "pinot-zookeeper-0", "revision": "z1"}]}}
    assert pod_restarts([("zookeeper", current, current, predicted)], status, None) == [
        {"group": "zookeeper", "role": "zookeeper", "pods": ["pinot-zookeeper-0"], "partition": 1}]


def rolled_sts(name, ready, replicas=2):
    return {"metadata": {"name": name, "generation": 2}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": 2, "readyReplicas": ready, "updatedReplicas": ready,
                       "currentRevision": "r2", "updateRevision": "r2"}}


class WatchingClient:
    """Lists StatefulSets from a script (one answer per list); a watch succeeds or not, as told."""

    def __init__(self, lists, watch_works=True):
        self.lists = list(lists)
        self.watch_works = watch_works
        self.calls = []

    def list_versioned(self, kind, namespace=None, selector=None):
        self.calls.append(("list", kind))
        return self.lists.pop(0), f"v{len(self.calls)}"

    def watch_change(self, kind, namespace, selector, version, timeout):
        self.calls.append(("watch", version))
        return self.watch_works


def test_a_rollout_is_waited_for_by_watching_from_each_list():
    cluster = normalise_cluster(description())
    client = WatchingClient([[rolled_sts("pinot-broker", 0)], [rolled_sts("pinot-broker", 1)],
                             [rolled_sts("pinot-broker", 2)]])
    slept = []
    wait_for(client, cluster, ["broker"], timeout=60, deadline=time.monotonic() + 60, sleep=slept.append)
    # Each watch starts at the version its list returned; nothing sleeps while watches work.
    assert client.calls == [("list", "StatefulSet"), ("watch", "v1"), ("list", "StatefulSet"), ("watch", "v3"),
                            ("list", "StatefulSet")]
    assert slept == []


def test_without_a_watch_the_wait_polls_and_a_timeout_names_what_is_pending():
    cluster = normalise_cluster(description())
    client = WatchingClient([[rolled_sts("pinot-broker", 0)], [rolled_sts("pinot-broker", 2)]], watch_works=False)
    slept = []
    wait_for(client, cluster, ["broker"], timeout=60, deadline=time.monotonic() + 60, sleep=slept.append)
    assert slept == [1.0]
    client = WatchingClient([[rolled_sts("pinot-broker", 1)]])
    with pytest.raises(WaitTimeout) as stopped:
        wait_for(client, cluster, ["broker", "minion"], timeout=5, deadline=time.monotonic() - 1, sleep=slept.append)
    assert stopped.value.pending == {"broker": "1 of 2 pods ready", "minion": "StatefulSet not found"}
    assert client.calls == [("list", "StatefulSet")]


def test_all_pods_ready_needs_every_pod_of_every_group():
    def group(replicas, *ready):
        return {"replicas": replicas, "pods": [{"ready": r} for r in ready]}
    assert all_pods_ready({"a": group(2, True, True), "b": group(1, True)})
    assert not all_pods_ready({"a": group(2, True, True), "b": group(1, False)})
    assert not all_pods_ready({"a": group(2, True)})  # a pod being recreated is not listed yet
    assert all_pods_ready({"a": group(0)})


class SecretsClient:
    """The reads of the pre-flight: the namespace, the zoned nodes, Secrets by name (keys only matter)."""

    def __init__(self, secrets):
        self.secrets = secrets

    def get(self, kind, name, namespace=None):
        if kind == "Namespace":
            return {"metadata": {"name": name}}
        assert kind == "Secret", kind
        keys = self.secrets.get(name)
        return None if keys is None else {"data": dict.fromkeys(keys, "eA==")}

    def list(self, kind):
        assert kind == "Node"
        return [{"metadata": {"name": f"n-{zone}", "labels": {ZONE_LABEL: zone}}}
                for zone in ("zone-a", "zone-b", "zone-c")]


def test_the_pre_flight_checks_the_deep_stores_secret_and_keys_naming_the_field():
    desc = description(deep_store={"uri": "s3://pinot-segments/p", "region": "us-east-1",
                                   "credentials_secret": {"name": "s3"}})
    cluster = normalise_cluster(desc)
    auth = {"pinot-auth": ["password"]}
    with pytest.raises(SpecError) as info:
        preflight(SecretsClient(auth), cluster, cluster["node_groups"])
    assert info.value.field == "cluster.deep_store.credentials_secret.name"
    with pytest.raises(SpecError) as info:
        preflight(SecretsClient(dict(auth, s3=["AWS_ACCESS_KEY_ID"])), cluster, cluster["node_groups"])
    assert info.value.field == "cluster.deep_store.credentials_secret.secret_key_key"
    both = dict(auth, s3=["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    assert preflight(SecretsClient(both), cluster, cluster["node_groups"])["n-zone-a"] == "zone-a"
