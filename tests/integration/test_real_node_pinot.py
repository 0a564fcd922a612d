"""Installs and upgrades proven real: site.yml installs a Pinot cluster in pods on the test bed's real node,
upgrade.yml moves it to the next Pinot version and reconcile.yml rolls a changed Pinot property, both under query
and ingestion load without one failed or wrong answer.

A control plane of its own with the real node (tests/testbed/real_node.py), the Pinot and ZooKeeper images of the
two Pinot versions of the upgrade imported into its containerd, and a Kafka broker on the node's address (pods reach
it there). The description is heterogeneous and small: a managed ZooKeeper, a controller, two brokers, two server
groups and a minion, all on the real node. Ansible reaches the controller and the broker through their client
Services' ClusterIPs (kube-proxy on the host); the Pinot gates check the pods' own instances. Tests share the
cluster and run in file order.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.polling import wait_until
from tests.testbed import plays
from tests.testbed.load import Expected, QueryLoad, StreamFeed
from tests.testbed.pytest_k8s import binaries_required
from tests.testbed.real_cluster import (
    FROM_VERSION,
    HOST,
    OFFLINE,
    REALTIME,
    TO_VERSION,
    RealCluster,
    ready_at,
    real_cluster_bed,
    timestamp,
)
from tests.testbed.real_node import NODE_LABEL, NODE_NAME

pytestmark = pytest.mark.integration

NS = "real-pinot"
ROLE_ORDER = ["zookeeper", "controller", "broker", "server", "minion"]
ROWS = [("r1", "paris", 12), ("r2", "paris", 30), ("r3", "lyon", 7), ("r4", "nice", 51), ("r5", "lyon", 3)]
MESSAGES = 20
UPGRADE_ORDER = ["pinot-controller-0", "pinot-broker-1", "pinot-broker-0", "pinot-server-a-0", "pinot-server-b-0",
                 "pinot-minion-0"]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    with binaries_required(), real_cluster_bed(tmp_path_factory.mktemp("real-pinot"), (FROM_VERSION, TO_VERSION),
                                               NS) as cluster:
        yield cluster


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def _offline_view(bed: RealCluster, table: str) -> dict[str, Any] | None:
    """The OFFLINE external view; None while the controller answers 404 (before the first segment is assigned)."""
    found = requests.get(f"{bed.service_url('controller')}/tables/{table}/externalview", timeout=30)
    return found.json().get("OFFLINE") if found.ok else None


def _role(pod: dict[str, Any]) -> str:
    return pod["metadata"]["labels"]["app.kubernetes.io/component"]


@contextlib.contextmanager
def _under_load(feed: StreamFeed, load: QueryLoad) -> Iterator[None]:
    """The Kafka feed and the checked queries run while the block does; both stopped after it, whatever happened."""
    feed.start()
    load.start()
    try:
        yield
    finally:
        load.stop()
        feed.stop()


def _assert_every_answer_right_at_the_rate(load: QueryLoad, began: float, ended: float) -> None:
    """Not one failed or wrong answer, and the load kept its rate from `began` to `ended`."""
    bad = load.bad()
    assert not bad, [f"{a.table} {a.outcome} {a.detail} at +{a.at - began:.1f}s" for a in bad[:10]]
    sent_queries, asked = load.kept_pace(began, ended)
    assert sent_queries >= asked, f"the load sent {sent_queries} queries during the window, the rate asks {asked}"


def test_site_playbook_installs_a_working_cluster_on_real_pods(bed: RealCluster) -> None:
    rc, out, seconds = bed.play()
    assert rc == 0, out[-4000:]
    assert plays.recap(out)[HOST]["changed"] > 0
    # A Pinot gate passed for every Pinot pod (the controller URL came from the module's report).
    for group in ("controller", "broker", "server-a", "server-b", "minion"):
        assert f"ok: [real] => (item={group} pinot-{group}-0)" in out, group

    pods = bed.pods()
    assert sorted(pods) == ["pinot-broker-0", "pinot-broker-1", "pinot-controller-0", "pinot-minion-0",
                            "pinot-server-a-0", "pinot-server-b-0", "pinot-zookeeper-0"]
    assert {p["spec"]["nodeName"] for p in pods.values()} == {NODE_NAME}
    assert all(ready_at(p) for p in pods.values())
    # Role after role: nothing of a role is created before every pod of the previous one is Ready.
    by_role = {r: [p for p in pods.values() if _role(p) == r] for r in ROLE_ORDER}
    for earlier, later in zip(ROLE_ORDER, ROLE_ORDER[1:], strict=False):
        first_later = min(timestamp(p["metadata"]["creationTimestamp"]) for p in by_role[later])
        assert max(ready_at(p) for p in by_role[earlier]) <= first_later, (earlier, later)
    ready = {n: round((ready_at(p) - timestamp(p["metadata"]["creationTimestamp"])).total_seconds(), 1)
             for n, p in sorted(pods.items())}
    print(f"\nreal-node bed set-up: {', '.join(f'{k} {v:.1f} s' for k, v in bed.timings.items())}; "
          f"site.yml {seconds} s; pod ready after creation (s): {ready}")

    # The instances are the pods, under the ids the module reports, with every registered port declared.
    listed = set(bed.controller("GET", "/instances").json()["instances"])
    pods_of = [("Controller", "pinot-controller-0", 9000), ("Broker", "pinot-broker-0", 8099),
               ("Broker", "pinot-broker-1", 8099),
               ("Server", "pinot-server-a-0", 8098), ("Server", "pinot-server-b-0", 8098),
               ("Minion", "pinot-minion-0", 9514)]
    expected = {f"{prefix}_{pod}.{pod.rsplit('-', 1)[0]}-headless.{NS}.svc.cluster.local_{port}"
                for prefix, pod, port in pods_of}
    assert listed == expected
    for instance in expected:
        config = bed.controller("GET", f"/instances/{instance}").json()
        registered = {int(config["port"])} | {config[k] for k in ("grpcPort", "adminPort", "queryServicePort",
                                                                  "queryMailboxPort") if config.get(k, -1) > 0}
        pod = pods[config["hostName"].split(".", 1)[0]]
        declared = {p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
        assert registered <= declared, (instance, registered, declared)
    # The role applied the described cluster config (test_second_run_changes_nothing: and leaves it be).
    assert bed.controller("GET", "/cluster/configs").json()["cluster.tenant.isolation.enable"] == "true"


def test_second_run_changes_nothing(bed: RealCluster) -> None:
    rc, out, _seconds = bed.play()
    assert rc == 0, out[-4000:]
    assert plays.recap(out)[HOST]["changed"] == 0


def test_batch_rows_answer_through_the_broker_service(bed: RealCluster) -> None:
    bed.ingest_csv(f"{OFFLINE}_OFFLINE", "id,city,fare", ROWS)

    def every_row_in() -> list[list[Any]] | None:
        try:
            found = bed.sql(f"SELECT COUNT(*), SUM(fare) FROM {OFFLINE}")
        except AssertionError:  # the broker's answer while the new segment loads: asked again
            return None
        return found if found[0][0] == len(ROWS) else None

    rows = wait_until("the ingested rows", every_row_in, timeout=180)
    assert rows == [[len(ROWS), float(sum(f for _i, _c, f in ROWS))]]
    by_city = bed.sql(f"SELECT city, SUM(fare) FROM {OFFLINE} GROUP BY city ORDER BY city")
    assert by_city == [["lyon", 10.0], ["nice", 51.0], ["paris", 42.0]]

    # Both servers hold the segment (replication 2) and serve it. The rows answer once one replica is ONLINE;
    # the second may still be loading then.
    def segment_states() -> list[list[str]]:
        view = bed.controller("GET", f"/tables/{OFFLINE}/externalview").json()["OFFLINE"]
        return [sorted(replicas.values()) for replicas in view.values()]

    wait_until("both replicas of the segment ONLINE", lambda: segment_states() == [["ONLINE", "ONLINE"]],
               timeout=120)


def test_kafka_rows_answer_through_the_broker_service(bed: RealCluster) -> None:
    now = int(time.time() * 1000)
    users = [f"u{i}-{uuid.uuid4().hex[:4]}" for i in range(MESSAGES)]
    bed.kafka.produce(bed.topic, [json.dumps({"user": u, "ts": now + i}) for i, u in enumerate(users)])
    wait_until("every Kafka message in the realtime table",
               lambda: bed.sql(f"SELECT COUNT(*) FROM {REALTIME}")[0][0] == len(users), timeout=180)
    assert bed.sql(f"SELECT user FROM {REALTIME} ORDER BY ts LIMIT 3") == [[u] for u in users[:3]]


def test_a_new_controller_pod_keeps_the_segment_store(bed: RealCluster) -> None:
    """The data-loss defect: the segment store must survive the controller pod (a PVC, never an emptyDir)."""
    old = bed.pods()["pinot-controller-0"]["metadata"]["uid"]
    segment = bed.controller("GET", f"/segments/{OFFLINE}").json()[0]["OFFLINE"][0]
    bed.cp.request("DELETE", f"/api/v1/namespaces/{NS}/pods/pinot-controller-0")
    wait_until("a new, Ready controller pod", lambda: (p := bed.pods().get("pinot-controller-0"))
               and p["metadata"]["uid"] != old and ready_at(p), timeout=180)
    # Until kube-proxy has the new endpoint, the ClusterIP refuses connections.
    wait_until("the controller answering through its Service", lambda: _answers(bed.service_url("controller")
                                                                                + "/health"), timeout=120)
    download = requests.get(f"{bed.service_url('controller')}/segments/{OFFLINE}/{segment}", timeout=60)
    assert download.status_code == 200 and len(download.content) > 0
    assert bed.sql(f"SELECT COUNT(*) FROM {OFFLINE}") == [[len(ROWS)]]


def test_a_stuck_rollout_names_the_reason_and_the_last_event_of_the_real_pod(bed: RealCluster) -> None:
    placed = {"node_selector": {NODE_LABEL: "true"}, "image_pull_policy": "Never", "storage": {"size": "1Gi"}}
    stuck = {"name": "stuck", "namespace": NS, "image": "apachepinot/pinot:0.0.0-not-imported",
             "zookeeper": {"address": "nowhere:2181/stuck"}, "profiles": {"p": placed},
             "node_groups": [{"name": "controller", "role": "controller", "replicas": 1, "profile": "p"}]}
    playbook = bed.inventory / "stuck.yml"
    task = {"pinotops.k8s.pinot_cluster": {"cluster": stuck, "kubeconfig": str(bed.cp.kubeconfig), "wait": True,
                                           "wait_timeout": 30}}
    cleanup = {"pinotops.k8s.pinot_cluster": {"cluster": {"name": "stuck", "namespace": NS}, "state": "absent",
                                              "delete_pvcs": True, "kubeconfig": str(bed.cp.kubeconfig)}}
    playbook.write_text(yaml.safe_dump([{"hosts": "real", "gather_facts": False, "tasks": [
        {"name": "Stuck", **task, "ignore_errors": True}, {"name": "Clean up", **cleanup}]}], sort_keys=False))
    rc, out, _seconds = bed.play(str(playbook))
    assert rc == 0, out[-3000:]
    assert "pods not Ready: stuck-controller-0 (pinot: ErrImageNeverPull" in out, out[-3000:]
    assert "last event Failed: " in out and "apachepinot/pinot:0.0.0-not-imported" in out, out[-3000:]


def test_upgrade_under_query_and_ingestion_load_loses_no_query(bed: RealCluster) -> None:
    """upgrade.yml moves every Pinot pod to the next version, pod by pod, while 5 queries/s go through the broker
    Service and the REALTIME table is fed from Kafka. Not one query fails or answers a wrong count, every pod is
    replaced exactly once in the documented order, and every message is in the table afterwards."""
    feed = StreamFeed(bed.kafka, bed.topic, "feed", rate=2.0)
    load = QueryLoad(bed.service_url("broker"), [Expected(OFFLINE, len(ROWS)), Expected(REALTIME, MESSAGES, feed)])
    hv = plays.host_vars(bed.inventory, HOST)
    plays.set_image(bed.inventory, HOST, f"apachepinot/pinot:{TO_VERSION}")
    # upgrade.yml runs no pinot_cluster role that would report the controller's Service: name it.
    plays.set_host_vars(bed.inventory, HOST, pinot_upgrade_accept_unavailable=["controller"],
                        pinot_controller_url=bed.service_url("controller"))
    try:
        with _under_load(feed, load):
            time.sleep(20)  # latency before the upgrade, for comparison
            began = time.monotonic()
            with plays.PodHistory(bed.pods) as history:
                rc, out, seconds = bed.play("upgrade.yml")
            ended = time.monotonic()
            time.sleep(5)
    finally:
        # The new image and the controller URL stay; the one controller is accepted for this upgrade only.
        hv["pinot_cluster"]["image"] = f"apachepinot/pinot:{TO_VERSION}"
        hv["pinot_controller_url"] = bed.service_url("controller")
        plays.write_host_vars(bed.inventory, HOST, hv)
    sent = len(feed.written)
    assert rc == 0, out[-4000:]
    _assert_every_answer_right_at_the_rate(load, began, ended)

    replaced = history.replacements()
    assert {n: c for n, c in replaced.items() if n != "pinot-zookeeper-0"} == {n: 1 for n in UPGRADE_ORDER}
    assert replaced["pinot-zookeeper-0"] == 0
    pods = bed.pods()
    created = {n: timestamp(pods[n]["metadata"]["creationTimestamp"]) for n in UPGRADE_ORDER}
    assert sorted(UPGRADE_ORDER, key=created.get) == UPGRADE_ORDER
    assert {pods[n]["spec"]["containers"][0]["image"] for n in UPGRADE_ORDER} == {f"apachepinot/pinot:{TO_VERSION}"}
    # The check before each restart passed on its own for brokers and servers; the lone controller was accepted.
    flat = " ".join(out.split())
    assert "is the only live controller" in flat and flat.count("(not enforced)") == 1, out[-3000:]
    for step in ("broker 1/2", "broker 2/2", "server-a 1/1", "server-b 1/1"):
        assert re.search(rf"^\[{HOST}\] {step} \S+: safe to restart, restarted, Ready after ", out, re.M), step

    # Ingestion went on: every message the feed sent is in the table, once.
    wait_until("every fed message in the realtime table",
               lambda: bed.sql(f"SELECT COUNT(*) FROM {REALTIME}")[0][0] >= MESSAGES + sent, timeout=120)
    assert bed.sql(f"SELECT COUNT(*), COUNT(DISTINCT user) FROM {REALTIME} WHERE user LIKE 'feed-%'") == \
        [[sent, sent]]
    reported = bed.pinot_versions()
    assert reported == dict.fromkeys(reported, TO_VERSION) and len(reported) == len(UPGRADE_ORDER)

    before, during = load.summary(until=began), load.summary(since=began, until=ended)
    # Per pod: the old pod's graceful stop (deletion to the new pod's creation), then the new pod's start.
    stops = {n: (created[n] - timestamp(history.deleted_at[history.uids[n][0]])).total_seconds()
             for n in UPGRADE_ORDER if history.uids[n][0] in history.deleted_at}
    starts = {n: (ready_at(pods[n]) - created[n]).total_seconds() for n in UPGRADE_ORDER}
    floor = sum(stops.values()) + sum(starts.values())
    print(f"\nupgrade {FROM_VERSION} -> {TO_VERSION} under load: {len(UPGRADE_ORDER)} pods, upgrade.yml {seconds} s; "
          f"pod stop (s) {stops}, start to Ready (s) {starts}, floor {floor:.1f} s, "
          f"{(seconds - floor) / len(UPGRADE_ORDER):.2f} s per pod over it; queries before: {before}; "
          f"during: {during}; {sent} messages fed, all ingested")


def test_a_changed_pinot_property_is_rolled_by_reconcile_pod_by_pod_under_load(bed: RealCluster) -> None:
    """A Pinot property of the brokers and of server-b changes in the inventory (a scheduled reconcile's night):
    reconcile.yml --check predicts the restarts and restarts nothing; reconcile.yml restarts exactly those pods,
    one at a time, each checked before it goes (safe to restart) and gated by Pinot after, while 5 queries/s go
    through the broker Service and the REALTIME table is fed. Not one query fails or answers a wrong count."""
    hv = plays.host_vars(bed.inventory, HOST)
    changed = json.loads(json.dumps(hv["pinot_cluster"]))
    groups = {g["name"]: g for g in changed["node_groups"]}
    groups["broker"].setdefault("pinot", {}).setdefault("properties", {})["pinot.broker.timeoutMs"] = 12000
    groups["server-b"]["pinot"]["properties"]["pinot.server.query.executor.timeout"] = 22000
    plays.set_host_vars(bed.inventory, HOST, pinot_cluster=changed)
    rolled = ["pinot-broker-1", "pinot-broker-0", "pinot-server-b-0"]
    feed = StreamFeed(bed.kafka, bed.topic, "reconcile", rate=2.0)
    rows = {table: bed.sql(f"SELECT COUNT(*) FROM {table}")[0][0] for table in (OFFLINE, REALTIME)}
    load = QueryLoad(bed.service_url("broker"), [Expected(OFFLINE, rows[OFFLINE]),
                                                 Expected(REALTIME, rows[REALTIME], feed)])
    with _under_load(feed, load):
        with plays.PodHistory(bed.pods) as history:
            rc, out, _seconds = bed.play("reconcile.yml", "--check")
        assert rc == 0, out[-4000:]
        flat = " ".join(out.split())
        assert f"[{HOST}] broker: would restart pinot-broker-1, pinot-broker-0; changes ConfigMap/" in flat, \
            out[-4000:]
        assert f"[{HOST}] server-b: would restart pinot-server-b-0; changes ConfigMap/" in flat
        assert "server-a: would restart" not in flat and "restarted, Ready after" not in flat
        assert all(count == 0 for count in history.replacements().values()), "check mode restarted a pod"
        began = time.monotonic()
        with plays.PodHistory(bed.pods) as history:
            rc, out, seconds = bed.play("reconcile.yml")
        ended = time.monotonic()
        time.sleep(5)
    sent = len(feed.written)
    assert rc == 0, out[-4000:]
    _assert_every_answer_right_at_the_rate(load, began, ended)

    # Exactly the pods of the changed groups, each once, one after the other in the rollout's order.
    assert history.replacements() == {n: int(n in rolled) for n in history.uids}, history.uids
    pods = bed.pods()
    created = {n: timestamp(pods[n]["metadata"]["creationTimestamp"]) for n in rolled}
    assert sorted(rolled, key=created.get) == rolled
    for previous, following in zip(rolled, rolled[1:], strict=False):
        assert created[following] >= ready_at(pods[previous]), (previous, following)
    # Each checked before it went and gated by Pinot after it came back (pinot_cluster_rollout's line per pod).
    for step, pod in (("broker 1/2", "pinot-broker-1"), ("broker 2/2", "pinot-broker-0"),
                      ("server-b 1/1", "pinot-server-b-0")):
        assert re.search(rf"^\[{HOST}\] {step} {pod}: safe to restart, restarted, Ready after [\d.]+ s; Pinot gate "
                         rf"passed after [\d.]+ s \(", out, re.M), (step, out[-4000:])
    assert "(not enforced)" not in out
    # The new properties are in the pods' config, and the rollout released the partitions it held them at.
    for group, key in (("broker", "pinot.broker.timeoutMs=12000"),
                       ("server-b", "pinot.server.query.executor.timeout=22000")):
        config = bed.cp.request("GET", f"/api/v1/namespaces/{NS}/configmaps/{bed.config_name(group)}")
        assert key in "".join(config["data"].values()), (group, config["data"])
        sts = bed.cp.request("GET", f"/apis/apps/v1/namespaces/{NS}/statefulsets/pinot-{group}")
        assert not (sts["spec"]["updateStrategy"].get("rollingUpdate") or {}).get("partition"), (group, sts["spec"])
    wait_until("every fed message in the realtime table",
               lambda: bed.sql(f"SELECT COUNT(*) FROM {REALTIME} WHERE user LIKE 'reconcile-%'")[0][0] >= sent,
               timeout=120)
    print(f"\nreconcile of a Pinot property change under load: {len(rolled)} pods, reconcile.yml {seconds} s; "
          f"queries during: {load.summary(since=began, until=ended)}; {sent} messages fed, all ingested")


def test_a_restart_that_would_strand_a_segment_is_refused_before_any_pod_goes_down(bed: RealCluster) -> None:
    """A table with replication 1 has its only replica on one server: changing that server group's template makes
    upgrade.yml stop before the group's first pod, naming the segment, and nothing restarts."""
    schema = {"schemaName": "solo", "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"}]}
    bed.controller("POST", "/schemas", json=schema)
    table = {"tableName": "solo", "tableType": "OFFLINE", "segmentsConfig": {"replication": "1"}, "tenants": {},
             "tableIndexConfig": {}, "metadata": {}}
    bed.controller("POST", "/tables", json=table)
    hv = plays.host_vars(bed.inventory, HOST)
    try:
        bed.ingest_csv("solo_OFFLINE", "id", [("only",)])
        view = wait_until("the segment ONLINE", lambda: _offline_view(bed, "solo"), timeout=120)
        [(segment, states)] = view.items()
        [holder] = states
        group = holder.split("_", 1)[1].split(".", 1)[0].removeprefix("pinot-").rsplit("-", 1)[0]
        changed = json.loads(json.dumps(hv["pinot_cluster"]))
        [spec] = [g for g in changed["node_groups"] if g["name"] == group]
        spec.setdefault("pinot", {}).setdefault("properties", {})["pinot.server.query.executor.timeout"] = 25000
        plays.set_host_vars(bed.inventory, HOST, pinot_cluster=changed)
        before = {n: p["metadata"]["uid"] for n, p in bed.pods().items()}
        # The check gives up after 5 s here (60 s by default: time for a cluster still converging).
        rc, out, _seconds = bed.play("upgrade.yml", "-e", "pinot_upgrade_restart_check_timeout=5")
        assert rc != 0
        flat = " ".join(out.split())
        assert f"Upgrade stopped at node group {group}, step {group} 1/1, pod(s) pinot-{group}-0, gate 'server " \
               f"restart_safe': Pinot gate 'restart_safe' failed for server {group} 1/1" in flat, out[-3000:]
        assert f"1 segment(s) would have no serving replica while {holder} restarts: solo_OFFLINE/{segment}" in flat
        assert "Nothing of this step was restarted" in flat and "pinot_upgrade_accept_unavailable" in flat
        assert {n: p["metadata"]["uid"] for n, p in bed.pods().items()} == before
    finally:
        plays.write_host_vars(bed.inventory, HOST, hv)
        bed.controller("DELETE", "/tables/solo?type=offline")
        bed.controller("DELETE", "/schemas/solo")
    # The described template is back: the held group is released without restarting anything.
    rc, out, _seconds = bed.play()
    assert rc == 0, out[-3000:]
    assert {n: p["metadata"]["uid"] for n, p in bed.pods().items()} == before


def _server(group: str) -> str:
    return f"Server_pinot-{group}-0.pinot-{group}-headless.{NS}.svc.cluster.local_8098"


def _placed(bed: RealCluster) -> set[str]:
    """Every server the ideal states of both tables name."""
    found = set()
    for table in (OFFLINE, REALTIME):
        for kind in bed.controller("GET", f"/tables/{table}/idealstate").json().values():
            for holders in (kind or {}).values():
                found |= set(holders)
    return found


def test_a_server_group_joins_then_another_leaves_without_a_failed_query(bed: RealCluster) -> None:
    """site.yml with a new server group, then without an old one, under query and ingestion load: the new server
    is put in service, the leaving one is drained before its pod goes and dropped from Helix after; not one query
    fails. Leaving a single server for tables of replication 2 is refused before anything changes."""
    hv = plays.host_vars(bed.inventory, HOST)
    grown = json.loads(json.dumps(hv["pinot_cluster"]))
    grown["node_groups"].insert(4, {"name": "server-c", "role": "server", "replicas": 1, "profile": "small"})
    shrunk = json.loads(json.dumps(grown))
    shrunk["node_groups"] = [g for g in shrunk["node_groups"] if g["name"] != "server-a"]
    feed = StreamFeed(bed.kafka, bed.topic, "scale", rate=2.0)
    rows = {table: bed.sql(f"SELECT COUNT(*) FROM {table}")[0][0] for table in (OFFLINE, REALTIME)}
    load = QueryLoad(bed.service_url("broker"), [Expected(OFFLINE, rows[OFFLINE]),
                                                 Expected(REALTIME, rows[REALTIME], feed)])
    try:
        with _under_load(feed, load):
            plays.set_host_vars(bed.inventory, HOST, pinot_cluster=grown)
            rc, out, grow_seconds = bed.play()
            assert rc == 0, out[-4000:]
            assert "New instances in service, with their node group's tags" in out and "(item=server-c)" in out
            assert bed.controller("GET", f"/instances/{_server('server-c')}").json()["tags"] == \
                ["DefaultTenant_OFFLINE", "DefaultTenant_REALTIME"]
            began = time.monotonic()
            plays.set_host_vars(bed.inventory, HOST, pinot_cluster=shrunk)
            rc, out, shrink_seconds = bed.play()
            ended = time.monotonic()
            time.sleep(5)
    finally:
        plays.set_host_vars(bed.inventory, HOST, pinot_cluster=shrunk)
    sent = len(feed.written)
    assert rc == 0, out[-4000:]
    _assert_every_answer_right_at_the_rate(load, began, ended)
    listed = set(bed.controller("GET", "/instances").json()["instances"])
    assert _server("server-a") not in listed and {_server("server-b"), _server("server-c")} <= listed
    assert _placed(bed) == {_server("server-b"), _server("server-c")}
    assert "pinot-server-a-0" not in bed.pods()
    wait_until("every fed message in the realtime table",
               lambda: bed.sql(f"SELECT COUNT(*) FROM {REALTIME} WHERE user LIKE 'scale-%'")[0][0] >= sent,
               timeout=120)

    # Two replicas cannot live on one server: refused by Pinot's validation, before any write.
    single = json.loads(json.dumps(shrunk))
    single["node_groups"] = [g for g in single["node_groups"] if g["name"] != "server-b"]
    before = {n: p["metadata"]["uid"] for n, p in bed.pods().items()}
    plays.set_host_vars(bed.inventory, HOST, pinot_cluster=single)
    try:
        rc, out, _seconds = bed.play()
    finally:
        plays.set_host_vars(bed.inventory, HOST, pinot_cluster=shrunk)
    assert rc != 0
    flat = " ".join(out.split())
    assert "Pinot refuses to set the tags [] on " + _server("server-b") in flat, out[-3000:]
    assert "Nothing was changed" in flat
    assert {n: p["metadata"]["uid"] for n, p in bed.pods().items()} == before
    assert bed.controller("GET", f"/instances/{_server('server-b')}").json()["tags"]
    print(f"\nscale out (server-c): site.yml {grow_seconds} s; scale in (server-a drained, removed, dropped): "
          f"site.yml {shrink_seconds} s; queries during the scale-in: "
          f"{load.summary(since=began, until=ended)}; {sent} messages fed, all ingested")


def test_a_replica_that_cannot_load_is_one_line_of_the_segment_gate(bed: RealCluster, tmp_path) -> None:
    """A server's copy of a segment and the segment store's copy are gone, and the segment is reset on that server:
    its replica goes to ERROR. The cluster's segment gate fails and names that replica once. Runs last: the
    segment stays broken."""
    segment = bed.controller("GET", f"/segments/{OFFLINE}").json()[0]["OFFLINE"][0]
    [server_b] = [i for i in bed.controller("GET", "/instances").json()["instances"]
                  if i.startswith("Server_pinot-server-b-0.")]
    for claim, inside in (("data-pinot-controller-0", f"{OFFLINE}/{segment}"),
                          ("data-pinot-server-b-0", f"index/{OFFLINE}_OFFLINE/{segment}")):
        volume = bed.cp.request("GET", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{claim}")["spec"]["volumeName"]
        copy = Path(bed.cp.request("GET", f"/api/v1/persistentvolumes/{volume}")["spec"]["hostPath"]["path"]) / inside
        assert copy.exists(), copy
        shutil.rmtree(copy) if copy.is_dir() else copy.unlink()
    bed.controller("POST", f"/segments/{OFFLINE}_OFFLINE/{segment}/reset", params={"targetInstance": server_b})
    wait_until("the replica in ERROR", lambda: bed.controller("GET", f"/tables/{OFFLINE}/externalview").json()
               ["OFFLINE"][segment].get(server_b) == "ERROR", timeout=120)

    report = tmp_path / "gate.json"
    gate = {"pinotops.k8s.pinot_health": {"controller_url": bed.service_url("controller"), "component": "cluster",
                                          "tables": [OFFLINE], "wait_timeout": 0}}
    (tmp_path / "gate.yml").write_text(yaml.safe_dump([{"hosts": HOST, "gather_facts": False, "tasks": [
        {"name": "Segment gate", **gate, "register": "gate", "ignore_errors": True},
        {"name": "Keep the result", "ansible.builtin.copy": {"content": "{{ gate | to_json }}", "dest": str(report)}},
    ]}], sort_keys=False))
    rc, out, _seconds = bed.play(str(tmp_path / "gate.yml"))
    assert rc == 0, out[-3000:]
    result = json.loads(report.read_text())
    assert result["failed"] and result["failed_check"] == "segments", result
    assert result["msg"].count(segment) == 1, result["msg"]
    assert f"1 segment(s) in the cluster not as in the ideal state: {OFFLINE}_OFFLINE/{segment} on {server_b}: " \
           "ERROR (ideal ONLINE)" in result["msg"], result["msg"]
