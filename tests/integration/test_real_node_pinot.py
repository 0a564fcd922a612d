"""Installs proven real: roles/pinot_cluster (site.yml) runs a Pinot cluster in pods on the test bed's real node.

A control plane of its own with the real node (tests/testbed/real_node.py), the Pinot and ZooKeeper images of the
primary Pinot version imported into its containerd, and a Kafka broker on the node's address (pods reach it
there). The description is heterogeneous and small: a managed ZooKeeper, a controller, a broker, two server
groups and a minion, all on the real node. Ansible reaches the controller and the broker through their client
Services' ClusterIPs (kube-proxy on the host); the Pinot gates check the pods' own instances. Tests share the
cluster and run in file order.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.polling import wait_until
from tests.testbed import demo, images
from tests.testbed.k8s import K8sControlPlane
from tests.testbed.pinot import PRIMARY_VERSION, PinotCluster
from tests.testbed.pytest_k8s import real_node_bed
from tests.testbed.real_node import NODE_IP, NODE_LABEL, NODE_NAME, RealNode

pytestmark = pytest.mark.integration

VERSION = PRIMARY_VERSION
NS = "real-pinot"
ROLE_ORDER = ["zookeeper", "controller", "broker", "server", "minion"]
OFFLINE = "rides"
REALTIME = "clicks"
ROWS = [("r1", "paris", 12), ("r2", "paris", 30), ("r3", "lyon", 7), ("r4", "nice", 51), ("r5", "lyon", 3)]


def description(image: str) -> dict[str, Any]:
    placed = {"node_selector": {NODE_LABEL: "true"}, "image_pull_policy": "Never"}
    small = dict(placed, resources={"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "768Mi"}},
                 storage={"size": "1Gi"})
    return {
        "name": "pinot", "namespace": NS, "image": image,
        "zookeeper": {"managed": {"replicas": 1, "storage": {"size": "1Gi"}, "profile": "zk"}},
        "pinot": {
            "controller": {"jvm_opts": "-Xms128m -Xmx384m"},
            "broker": {"jvm_opts": "-Xms128m -Xmx256m"},
            "server": {"jvm_opts": "-Xms128m -Xmx384m"},
            "minion": {"jvm_opts": "-Xms64m -Xmx192m"},
        },
        "profiles": {"zk": placed, "small": small},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 1, "profile": "small"},
            {"name": "broker", "role": "broker", "replicas": 1, "profile": "small"},
            {"name": "server-a", "role": "server", "replicas": 1, "profile": "small"},
            {"name": "server-b", "role": "server", "replicas": 1, "profile": "small",
             "pinot": {"properties": {"pinot.server.query.executor.timeout": 20000}}},
            {"name": "minion", "role": "minion", "replicas": 1, "profile": "small"},
        ],
    }


def resources(kafka: PinotCluster, topic: str) -> dict[str, Any]:
    time_spec = [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]
    schemas = [
        {"schemaName": OFFLINE, "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"},
                                                        {"name": "city", "dataType": "STRING"}],
         "metricFieldSpecs": [{"name": "fare", "dataType": "INT"}]},
        {"schemaName": REALTIME, "dimensionFieldSpecs": [{"name": "user", "dataType": "STRING"}],
         "dateTimeFieldSpecs": time_spec},
    ]
    tables = [
        {"tableName": OFFLINE, "tableType": "OFFLINE", "segmentsConfig": {"replication": "2"},
         "tenants": {}, "tableIndexConfig": {}, "metadata": {}},
        {"tableName": REALTIME, "tableType": "REALTIME",
         "segmentsConfig": {"timeColumnName": "ts", "replicasPerPartition": "2"}, "tenants": {},
         "tableIndexConfig": {"streamConfigs": {
             "streamType": "kafka", "stream.kafka.topic.name": topic,
             "stream.kafka.broker.list": kafka.kafka_bootstrap,
             "stream.kafka.consumer.factory.class.name": kafka.kafka_consumer_factory,
             "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
             "stream.kafka.consumer.prop.auto.offset.reset": "smallest"}},
         "metadata": {}},
    ]
    return {"pinot_cluster_schemas": schemas, "pinot_cluster_tables": tables}


@dataclass
class Bed:
    cp: K8sControlPlane
    node: RealNode
    kafka: PinotCluster
    inventory: Path
    topic: str
    timings: dict[str, float]
    urls: dict[str, str] = field(default_factory=dict)

    def play(self, *args: str) -> tuple[int, str, float]:
        return demo.run_playbook("site.yml", self.inventory, *args)

    def pods(self) -> dict[str, dict[str, Any]]:
        return {p["metadata"]["name"]: p for p in demo.pods(self.cp, NS)}

    def service_url(self, role: str) -> str:
        if role not in self.urls:  # a ClusterIP never changes: one read per Service
            service = self.cp.request("GET", f"/api/v1/namespaces/{NS}/services/pinot-{role}")["spec"]
            self.urls[role] = f"http://{service['clusterIP']}:{service['ports'][0]['port']}"
        return self.urls[role]

    def controller(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, self.service_url("controller") + path, timeout=60, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response

    def sql(self, query: str) -> list[list[Any]]:
        response = requests.post(self.service_url("broker") + "/query/sql", json={"sql": query}, timeout=60)
        body = response.json()
        assert response.ok and not body.get("exceptions"), body
        return body["resultTable"]["rows"]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    base = tmp_path_factory.mktemp("real-pinot")
    timings: dict[str, float] = {}
    began = time.monotonic()
    with real_node_bed(base) as (cp, node):
        timings["control plane + node"] = time.monotonic() - began
        t = time.monotonic()
        for ref, archive in images.build_all((VERSION,)).items():
            node.import_image(archive, ref)
        timings["images"] = time.monotonic() - t
        t = time.monotonic()
        # Pods reach the node's address, not the host's loopback.
        with PinotCluster(VERSION, base / "kafka", pinot=False, kafka=True, kafka_host=NODE_IP) as kafka:
            topic = "clicks_" + secrets.token_hex(3)
            kafka.create_kafka_topic(topic)
            timings["kafka"] = time.monotonic() - t
            demo.ensure_namespace(cp, NS)
            wait_until("the namespace's default ServiceAccount",
                       lambda: cp.get_or_none(f"/api/v1/namespaces/{NS}/serviceaccounts/default"))
            yield Bed(cp, node, kafka, write_inventory(base / "inventory", cp, kafka, topic), topic, timings)


def write_inventory(inventory: Path, cp: K8sControlPlane, kafka: PinotCluster, topic: str) -> Path:
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"pinot_clusters": {"hosts": {"real": None}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
    host_vars = {
        "pinot_kubeconfig": str(cp.kubeconfig),
        "pinot_cluster": description(f"apachepinot/pinot:{VERSION}"),
        # The controller of this very cluster, through its Service, as soon as the module has reported it.
        "pinot_controller_url": "http://{{ pinot_cluster_applied.services.controller.cluster_ip }}:"
                                "{{ pinot_cluster_applied.services.controller.ports.http }}",
        "pinot_cluster_wait_timeout": 300, "pinot_cluster_gate_timeout": 180,
        **resources(kafka, topic),
    }
    (inventory / "host_vars" / "real.yml").write_text(yaml.safe_dump(host_vars, sort_keys=False))
    return inventory


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ready_at(pod: dict[str, Any]) -> datetime | None:
    for cond in pod["status"].get("conditions", []):
        if cond["type"] == "Ready" and cond["status"] == "True":
            return _ts(cond["lastTransitionTime"])
    return None


def _role(pod: dict[str, Any]) -> str:
    return pod["metadata"]["labels"]["app.kubernetes.io/component"]


def test_site_playbook_installs_a_working_cluster_on_real_pods(bed: Bed) -> None:
    rc, out, seconds = bed.play()
    assert rc == 0, out[-4000:]
    assert demo.recap(out)["real"]["changed"] > 0
    # A Pinot gate passed for every Pinot pod (the controller URL came from the module's report).
    for group in ("controller", "broker", "server-a", "server-b", "minion"):
        assert f"ok: [real] => (item={group} pinot-{group}-0)" in out, group

    pods = bed.pods()
    assert sorted(pods) == ["pinot-broker-0", "pinot-controller-0", "pinot-minion-0", "pinot-server-a-0",
                            "pinot-server-b-0", "pinot-zookeeper-0"]
    assert {p["spec"]["nodeName"] for p in pods.values()} == {NODE_NAME}
    assert all(_ready_at(p) for p in pods.values())
    # Role after role: nothing of a role is created before every pod of the previous one is Ready.
    by_role = {r: [p for p in pods.values() if _role(p) == r] for r in ROLE_ORDER}
    for earlier, later in zip(ROLE_ORDER, ROLE_ORDER[1:], strict=False):
        first_later = min(_ts(p["metadata"]["creationTimestamp"]) for p in by_role[later])
        assert max(_ready_at(p) for p in by_role[earlier]) <= first_later, (earlier, later)
    ready = {n: round((_ready_at(p) - _ts(p["metadata"]["creationTimestamp"])).total_seconds(), 1)
             for n, p in sorted(pods.items())}
    print(f"\nreal-node bed set-up: {', '.join(f'{k} {v:.1f} s' for k, v in bed.timings.items())}; "
          f"site.yml {seconds} s; pod ready after creation (s): {ready}")

    # The instances are the pods, under the ids the module reports, with every registered port declared.
    listed = set(bed.controller("GET", "/instances").json()["instances"])
    pods_of = [("Controller", "pinot-controller-0", 9000), ("Broker", "pinot-broker-0", 8099),
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


def test_second_run_changes_nothing(bed: Bed) -> None:
    rc, out, _seconds = bed.play()
    assert rc == 0, out[-4000:]
    assert demo.recap(out)["real"]["changed"] == 0


def test_batch_rows_answer_through_the_broker_service(bed: Bed) -> None:
    csv = "id,city,fare\n" + "".join(f"{i},{c},{f}\n" for i, c, f in ROWS)
    batch = json.dumps({"inputFormat": "csv", "recordReader.prop.delimiter": ","})
    bed.controller("POST", f"/ingestFromFile?tableNameWithType={OFFLINE}_OFFLINE&batchConfigMapStr="
                   + urllib.request.quote(batch), files={"file": ("rides.csv", csv)})
    wait_until("the ingested rows", lambda: bed.sql(f"SELECT COUNT(*) FROM {OFFLINE}")[0][0] == len(ROWS),
               timeout=120)
    assert bed.sql(f"SELECT COUNT(*), SUM(fare) FROM {OFFLINE}") == [[len(ROWS), float(sum(f for _i, _c, f in ROWS))]]
    by_city = bed.sql(f"SELECT city, SUM(fare) FROM {OFFLINE} GROUP BY city ORDER BY city")
    assert by_city == [["lyon", 10.0], ["nice", 51.0], ["paris", 42.0]]
    # Both servers hold the segment (replication 2) and serve it.
    view = bed.controller("GET", f"/tables/{OFFLINE}/externalview").json()["OFFLINE"]
    assert [sorted(states.values()) for states in view.values()] == [["ONLINE", "ONLINE"]]


def test_kafka_rows_answer_through_the_broker_service(bed: Bed) -> None:
    now = int(time.time() * 1000)
    users = [f"u{i}-{uuid.uuid4().hex[:4]}" for i in range(20)]
    bed.kafka.produce(bed.topic, [json.dumps({"user": u, "ts": now + i}) for i, u in enumerate(users)])
    wait_until("every Kafka message in the realtime table",
               lambda: bed.sql(f"SELECT COUNT(*) FROM {REALTIME}")[0][0] == len(users), timeout=180)
    assert bed.sql(f"SELECT user FROM {REALTIME} ORDER BY ts LIMIT 3") == [[u] for u in users[:3]]


def test_a_new_controller_pod_keeps_the_segment_store(bed: Bed) -> None:
    """The data-loss defect: the segment store must survive the controller pod (a PVC, never an emptyDir)."""
    old = bed.pods()["pinot-controller-0"]["metadata"]["uid"]
    segment = bed.controller("GET", f"/segments/{OFFLINE}").json()[0]["OFFLINE"][0]
    bed.cp.request("DELETE", f"/api/v1/namespaces/{NS}/pods/pinot-controller-0")
    wait_until("a new, Ready controller pod", lambda: (p := bed.pods().get("pinot-controller-0"))
               and p["metadata"]["uid"] != old and _ready_at(p), timeout=180)
    wait_until("the controller answering through its Service",
               lambda: requests.get(bed.service_url("controller") + "/health", timeout=5).ok, timeout=120)
    download = requests.get(f"{bed.service_url('controller')}/segments/{OFFLINE}/{segment}", timeout=60)
    assert download.status_code == 200 and len(download.content) > 0
    assert bed.sql(f"SELECT COUNT(*) FROM {OFFLINE}") == [[len(ROWS)]]


def test_a_stuck_rollout_names_the_reason_and_the_last_event_of_the_real_pod(bed: Bed) -> None:
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
    rc, out, _seconds = demo.run_playbook(str(playbook), bed.inventory)
    assert rc == 0, out[-3000:]
    assert "pods not Ready: stuck-controller-0 (pinot: ErrImageNeverPull" in out, out[-3000:]
    assert "last event Failed: " in out and "apachepinot/pinot:0.0.0-not-imported" in out, out[-3000:]
