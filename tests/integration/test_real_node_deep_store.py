"""Storage proven on real pods (issue 29): two controllers and an S3 deep store on the real node (and each role's
Prometheus metrics, issue 31).

A real S3 API (s3proxy, tests/testbed/pinot.py `S3Server`) on the node's address, its key pair only in a Kubernetes
Secret; Pinot 1.5.1 pods (their image carries the S3 plugin) installed by site.yml from the real-node description
with two controllers and `deep_store`. Rows are uploaded (OFFLINE) and consumed (REALTIME, small segments committed
into the bucket). Then, under checked query load: every controller pod deleted at once; a server's volume lost (its
PVC and pod deleted), the server downloading every segment back from the bucket; a server added and replication
raised, the new replicas downloaded from the bucket. The key pair is in no other object and in no output. Tests
share the cluster and run in file order.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from tests.support.polling import wait_until
from tests.testbed import plays
from tests.testbed.load import Expected, QueryLoad, StreamFeed
from tests.testbed.pinot import S3Server
from tests.testbed.pytest_k8s import binaries_required
from tests.testbed.real_cluster import HOST, OFFLINE, REALTIME, TO_VERSION, RealCluster, ready_at, real_cluster_bed
from tests.testbed.real_node import NODE_IP

pytestmark = pytest.mark.integration

NS = "storage"
SECRET = "pinot-s3"
PREFIX = "segments"
ROWS = [("r1", "paris", 12), ("r2", "lyon", 30), ("r3", "nice", 7)]
BATCHES = 3
FLUSH_ROWS = 10  # a REALTIME segment commits every 10 messages: several land in the bucket
LOST_SERVER = "pinot-server-a-0"
ADDED_SERVER = "pinot-server-b-1"


@dataclass
class Bed:
    cluster: RealCluster
    s3: S3Server
    outputs: list[str] = field(default_factory=list)

    def play(self, playbook: str = "site.yml") -> str:
        rc, out, seconds = self.cluster.play(playbook)
        self.outputs.append(out)
        assert rc == 0, out[-4000:]
        print(f"\n{playbook}: {seconds} s")
        return out


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    base = tmp_path_factory.mktemp("storage")
    with binaries_required(), real_cluster_bed(base, (TO_VERSION,), NS) as cluster, \
            S3Server(base / "s3", host=NODE_IP) as s3:
        cluster.cp.request("POST", f"/api/v1/namespaces/{NS}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET},
            "stringData": {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}})
        hv = plays.host_vars(cluster.inventory, HOST)
        description = hv["pinot_cluster"]
        description["profiles"]["small"]["metrics"] = {}  # every Pinot pod runs the JMX exporter agent
        for group in description["node_groups"]:
            if group["role"] == "controller":
                group["replicas"] = 2
        description["deep_store"] = {"uri": f"s3://{s3.bucket}/{PREFIX}", "region": s3.region,
                                     "endpoint": s3.endpoint, "credentials_secret": {"name": SECRET}}
        for table in hv["pinot_cluster_tables"]:
            if table["tableType"] == "REALTIME":
                table["tableIndexConfig"]["streamConfigs"]["realtime.segment.flush.threshold.rows"] = str(FLUSH_ROWS)
        plays.write_host_vars(cluster.inventory, HOST, hv)
        yield Bed(cluster, s3)


def helix(bed: Bed) -> str:
    return bed.cluster.controller("GET", "/cluster/info").json()["clusterName"]


def segment_urls(bed: Bed, table_with_type: str) -> dict[str, str | None]:
    """{segment: its download URL} of a table's segments that have one (committed or uploaded)."""
    table, _sep, table_type = table_with_type.rpartition("_")
    names = [n for e in bed.cluster.controller("GET", f"/segments/{table}", params={"type": table_type}).json()
             for n in e.get(table_type, [])]
    found = {}
    for name in names:
        record = bed.cluster.controller("GET", "/zk/get", params={
            "path": f"/{helix(bed)}/PROPERTYSTORE/SEGMENTS/{table_with_type}/{name}"})
        fields = json.loads(record.text)["simpleFields"]
        if fields.get("segment.realtime.status", "DONE") == "DONE":
            found[name] = fields.get("segment.download.url")
    return found


def online(bed: Bed, table_with_type: str) -> dict[str, set[str]]:
    """{segment: instances serving it} from the external view (ONLINE, or CONSUMING for a consuming segment)."""
    table, _sep, table_type = table_with_type.rpartition("_")
    view = bed.cluster.controller("GET", f"/tables/{table}/externalview").json().get(table_type) or {}
    return {s: {i for i, state in r.items() if state in ("ONLINE", "CONSUMING")} for s, r in view.items()}


def instance_of(pod: str) -> str:
    group = pod.rsplit("-", 1)[0]
    return f"Server_{pod}.{group}-headless.{NS}.svc.cluster.local_8098"


def counts(bed: Bed) -> dict[str, int | None]:
    """COUNT(*) of each table; None for a table the broker cannot answer for yet (one just created)."""
    return {t: (bed.cluster.answer(f"SELECT COUNT(*) FROM {t}") or [[None]])[0][0] for t in (OFFLINE, REALTIME)}


def steady_load(bed: Bed) -> QueryLoad:
    """Checked COUNT(*) queries through the broker Service, the counts fixed (nothing is fed meanwhile)."""
    return QueryLoad(bed.cluster.service_url("broker"), [Expected(t, n) for t, n in counts(bed).items()])


def assert_load_held(load: QueryLoad, began: float, ended: float) -> str:
    bad = load.bad()
    assert not bad, [f"{a.table} {a.outcome} {a.detail} at +{a.at - began:.1f}s" for a in bad[:10]]
    sent, asked = load.kept_pace(began, ended)
    assert sent >= asked, f"the load sent {sent} queries, the rate asks {asked}"
    return str(load.summary(since=began, until=ended))


# -- tests ----------------------------------------------------------------------


def test_two_controllers_with_the_deep_store_keep_every_segment_in_the_bucket(bed: Bed) -> None:
    cluster = bed.cluster
    bed.play()
    controllers = [n for n in cluster.pods() if "-controller-" in n]
    assert len(controllers) == 2 and all(ready_at(cluster.pods()[n]) for n in controllers)
    for batch in range(BATCHES):
        cluster.ingest_csv(f"{OFFLINE}_OFFLINE", "id,city,fare", [(f"{i}-{batch}", c, f) for i, c, f in ROWS])
    feed = StreamFeed(cluster.kafka, cluster.topic, "store", rate=10.0)
    feed.start()
    time.sleep(3.5)
    sent = feed.stop()
    wait_until("every row", lambda: counts(bed) == {OFFLINE: BATCHES * len(ROWS), REALTIME: sent}, timeout=120)
    committed = wait_until("the committed REALTIME segments", lambda: (
        urls := segment_urls(bed, f"{REALTIME}_REALTIME")) and len(urls) >= sent // FLUSH_ROWS and urls, timeout=120)
    uploaded = segment_urls(bed, f"{OFFLINE}_OFFLINE")
    assert len(uploaded) == BATCHES
    keys = set(bed.s3.keys(f"{PREFIX}/"))
    for segment, url in {**uploaded, **committed}.items():
        assert url and url.startswith(f"s3://{bed.s3.bucket}/{PREFIX}/"), (segment, url)
        assert url.removeprefix(f"s3://{bed.s3.bucket}/") in keys, (segment, url, sorted(keys))
    print(f"{len(uploaded)} uploaded and {len(committed)} committed segments ({sent} messages), each in the bucket")


def test_every_pod_exports_its_roles_pinot_metrics_to_prometheus(bed: Bed) -> None:
    """`metrics: {}` in the profile: each Pinot pod's JMX exporter agent answers on its `metrics` port, declared
    in the scrape annotations, with the series of the pod's own role."""
    series = {"controller": "pinot_controller_", "broker": "pinot_broker_queries", "server": "pinot_server_",
              "minion": "pinot_minion_"}
    found = {}
    for name, pod in bed.cluster.pods().items():
        role = next((r for r in series if f"-{r}-" in name), None)
        if role is None:
            continue
        annotations = pod["metadata"].get("annotations") or {}
        assert annotations.get("prometheus.io/scrape") == "true", (name, annotations)
        port = int(annotations["prometheus.io/port"])
        ports = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert ports.get("metrics") == port, (name, ports)
        url = f"http://{pod['status']['podIP']}:{port}{annotations.get('prometheus.io/path', '/metrics')}"
        text = wait_until(f"{name}'s {series[role]} series", lambda url=url, role=role: (
            body := requests.get(url, timeout=10).text) and series[role] in body and body, timeout=60)
        found[name] = (role, sum(1 for line in text.splitlines() if line.startswith("pinot_")))
    assert {role for role, _count in found.values()} == set(series), found
    print(f"\nPinot series per pod: {found}")


def test_every_controller_pod_deleted_at_once_then_both_serve_every_segment(bed: Bed) -> None:
    cluster = bed.cluster
    load = steady_load(bed)
    before = {n: p["metadata"]["uid"] for n, p in cluster.pods().items() if "-controller-" in n}
    load.start()
    began = time.monotonic()
    try:
        time.sleep(3)
        for name in before:
            cluster.cp.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{name}")
        wait_until("both controllers replaced and Ready", lambda: all(
            (p := cluster.pods().get(n)) and p["metadata"]["uid"] != uid and ready_at(p)
            for n, uid in before.items()), timeout=240)
        back = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    summary = assert_load_held(load, began, time.monotonic())
    # Each new controller pod, asked directly, serves an uploaded segment and a committed one from the bucket.
    pods = cluster.pods()
    for table_with_type in (f"{OFFLINE}_OFFLINE", f"{REALTIME}_REALTIME"):
        table = table_with_type.rpartition("_")[0]
        segment = sorted(segment_urls(bed, table_with_type))[0]
        for name in before:
            url = f"http://{pods[name]['status']['podIP']}:9000/segments/{table}/{segment}"
            response = requests.get(url, timeout=60)
            assert response.status_code == 200 and len(response.content) > 0, (name, url, response.status_code)
    # And a new upload goes on, through either controller.
    cluster.ingest_csv(f"{OFFLINE}_OFFLINE", "id,city,fare", [(f"{i}-after", c, f) for i, c, f in ROWS])
    wait_until("the new rows", lambda: counts(bed)[OFFLINE] == (BATCHES + 1) * len(ROWS), timeout=120)
    print(f"\nboth controllers deleted: back and Ready {back - began - 3:.1f} s later; queries {summary}")


def test_a_server_that_lost_its_volume_downloads_every_segment_from_the_bucket(bed: Bed) -> None:
    cluster, cp = bed.cluster, bed.cluster.cp
    pod = cluster.pods()[LOST_SERVER]
    claim = next(v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                 if "persistentVolumeClaim" in v)
    old_claim = cp.request("GET", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{claim}")
    old_volume = old_claim["spec"]["volumeName"]
    instance = instance_of(LOST_SERVER)
    tables = (f"{OFFLINE}_OFFLINE", f"{REALTIME}_REALTIME")
    hosted = {t: sorted(s for s, on in online(bed, t).items() if instance in on) for t in tables}
    assert all(hosted.values()), hosted
    load = steady_load(bed)
    load.start()
    began = time.monotonic()
    try:
        time.sleep(3)
        cp.request("DELETE", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{claim}")
        cp.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{LOST_SERVER}")

        retried: list[float] = []

        def new_pod_on_a_new_claim() -> bool:
            current = cp.get_or_none(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{claim}")
            fresh = bool(current) and current["metadata"]["uid"] != old_claim["metadata"]["uid"]
            found = cluster.pods().get(LOST_SERVER)
            if found and not fresh and found["metadata"]["uid"] != pod["metadata"]["uid"] and \
                    time.monotonic() - max(retried, default=began) > 15:
                # Recreated while the old claim was still going: it would wait on that claim for ever.
                retried.append(time.monotonic())
                cp.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{LOST_SERVER}")
                return False
            return fresh and bool(found) and bool(ready_at(found))

        wait_until(f"{LOST_SERVER} Ready on a new volume", new_pod_on_a_new_claim, timeout=300)
        ready = time.monotonic()
        wait_until(f"every segment {LOST_SERVER} hosted ONLINE on it again", lambda: all(
            instance in online(bed, t).get(s, set()) for t in tables for s in hosted[t]), timeout=300)
        converged = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    summary = assert_load_held(load, began, time.monotonic())
    new_claim = cp.request("GET", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{claim}")
    assert new_claim["spec"]["volumeName"] != old_volume
    # On its empty volume the server fetched each committed segment by its download URL, the bucket's (its log).
    log = cp.request("GET", f"/api/v1/namespaces/{NS}/pods/{LOST_SERVER}/log")
    for table in tables:
        urls = segment_urls(bed, table)
        for segment in (s for s in hosted[table] if s in urls):
            assert urls[segment].startswith("s3://"), (segment, urls[segment])
            assert f"Downloaded segment: {segment} from: {urls[segment]}" in log, segment
    print(f"\n{LOST_SERVER} lost its volume: Ready {ready - began - 3:.1f} s after (pod deleted again "
          f"{len(retried)} times), its "
          f"{sum(map(len, hosted.values()))} segments ONLINE again {converged - ready:.1f} s later; queries {summary}")


def test_a_server_added_and_replication_raised_serve_from_the_bucket(bed: Bed) -> None:
    cluster = bed.cluster
    hv = plays.host_vars(cluster.inventory, HOST)
    next(g for g in hv["pinot_cluster"]["node_groups"] if g["name"] == "server-b")["replicas"] = 2
    offline = next(t for t in hv["pinot_cluster_tables"] if t["tableType"] == "OFFLINE")
    offline["segmentsConfig"]["replication"] = "3"
    plays.write_host_vars(cluster.inventory, HOST, hv)
    load = steady_load(bed)
    load.start()
    began = time.monotonic()
    try:
        bed.play()
        played = time.monotonic()
        wait_until("every OFFLINE segment on three servers, one of them the new one", lambda: (
            view := online(bed, f"{OFFLINE}_OFFLINE")) and all(
            len(on) == 3 and instance_of(ADDED_SERVER) in on for on in view.values()), timeout=300)
        converged = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    summary = assert_load_held(load, began, time.monotonic())
    print(f"\n{ADDED_SERVER} added and replication 2 -> 3: site.yml {played - began:.1f} s, every segment on three "
          f"servers {converged - began:.1f} s after it began; queries {summary}")


def test_the_key_pair_is_only_in_the_secret(bed: Bed) -> None:
    cp, s3 = bed.cluster.cp, bed.s3
    keys = (s3.access_key, s3.secret_key)
    forms = {*keys, *(base64.b64encode(k.encode()).decode() for k in keys)}
    for kind, path in (("ConfigMap", "configmaps"), ("StatefulSet", "apps/v1:statefulsets"),
                       ("Pod", "pods"), ("Secret", "secrets")):
        api, _sep, plural = path.rpartition(":")
        prefix = f"/apis/{api}" if api else "/api/v1"
        for item in cp.request("GET", f"{prefix}/namespaces/{NS}/{plural}")["items"]:
            if kind == "Secret" and item["metadata"]["name"] == SECRET:
                continue
            text = json.dumps(item)
            assert not any(form in text for form in forms), f"{kind} {item['metadata']['name']} holds the key pair"
    assert bed.outputs and not any(form in out for out in bed.outputs for form in forms)
