"""The S3 deep store on real Pinot (issue 29): a real S3 API (s3proxy), Pinot's S3 plugin built from source, and
the controller and server properties exactly as pinot_cluster renders them for `deep_store`.

Each deep store test starts its own cluster (two controllers, a broker, two servers, Kafka) with those properties
and the key pair in the JVMs' environment, as the pods get it from the Secret. Proven: an uploaded segment lands in
the bucket (listed through the S3 API), its download URL is the bucket's and both controllers serve it; a server
whose local data is gone downloads it back from the bucket; realtime segment completion commits into the bucket,
with peerSegmentDownloadScheme; the key pair is in no rendered manifest and in no Pinot log. And why pinotops
refuses several controllers without a deep store: the second controller does not serve what the first received.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
import requests

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.render import conf_file, render_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.spec import normalise_cluster
from tests.support.polling import wait_until
from tests.support.tables import id_ts_schema, ingest_csv, produce_rows, row_counts
from tests.testbed.pinot import CLUSTER_NAME, S3Server

pytestmark = pytest.mark.integration

PREFIX = "pinot"
SECRET = "pinot-s3"
# What pinotops renders for the deep store, as opposed to the pod-specific rest of a .conf (ports, paths).
DEEP_STORE_KEYS = (".storage.factory.", ".segment.fetcher.", "controller.data.dir", "segment.store.uri")


def description(s3: S3Server) -> dict:
    return {
        "name": "pinot", "namespace": "analytics", "image": "apachepinot/pinot:1.5.1",
        "zookeeper": {"address": "zk:2181"},
        "deep_store": {"uri": f"s3://{s3.bucket}/{PREFIX}", "region": s3.region, "endpoint": s3.endpoint,
                       "credentials_secret": {"name": SECRET}},
        "node_groups": [{"name": "controller", "role": "controller", "replicas": 2},
                        {"name": "broker", "role": "broker", "replicas": 1},
                        {"name": "server", "role": "server", "replicas": 1},
                        {"name": "minion", "role": "minion", "replicas": 1}],
    }


def rendered(s3: S3Server) -> list[dict]:
    return [m for _stage, items in render_cluster(normalise_cluster(description(s3))) for m in items]


def deep_store_properties(manifests: list[dict]) -> dict[str, dict[str, str]]:
    """{role: the deep store's properties} from the rendered ConfigMaps."""
    found = {}
    for manifest in manifests:
        if manifest["kind"] != "ConfigMap":
            continue
        role = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
        lines = manifest["data"][conf_file(role)].splitlines()[1:]
        found[role] = {key: value for key, _sep, value in (line.partition("=") for line in lines)
                       if any(part in key for part in DEEP_STORE_KEYS)}
    return found


def aws_env(manifests: list[dict], s3: S3Server) -> dict[str, str]:
    """The variables the rendered pods get from the Secret, with the values the Secret would hold."""
    values = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
    env = {}
    for manifest in manifests:
        if manifest["kind"] == "StatefulSet":
            for item in manifest["spec"]["template"]["spec"]["containers"][0]["env"]:
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] == SECRET:
                    env[item["name"]] = values[ref["key"]]
    assert sorted(env) == sorted(values)
    return env


@pytest.fixture
def s3(tmp_path):
    with S3Server(tmp_path / "s3") as server:
        yield server


@pytest.fixture
def deep_store_pinot(s3, fresh_pinot):
    """Two controllers, a broker, two servers and Kafka with the deep store pinot_cluster renders."""
    manifests = rendered(s3)
    properties = deep_store_properties(manifests)
    assert properties["controller"]["controller.data.dir"] == f"s3://{s3.bucket}/{PREFIX}"
    assert properties["server"]["pinot.server.storage.factory.class.s3"].endswith("S3PinotFS")
    assert properties["server"]["pinot.server.instance.segment.store.uri"] == f"s3://{s3.bucket}/{PREFIX}"
    assert properties["minion"]["pinot.minion.segment.fetcher.s3.class"].endswith("PinotFSSegmentFetcher")
    assert properties["broker"] == {}
    # The key pair is nowhere in what pinotops renders: the pods read it from the Secret.
    text = json.dumps(manifests)
    assert s3.access_key not in text and s3.secret_key not in text
    began = time.monotonic()
    cluster = fresh_pinot(servers=2, minion=False, controllers=2, kafka=True, s3_plugin=True, properties=properties,
                          env=aws_env(manifests, s3))
    print(f"cluster with the S3 deep store up in {time.monotonic() - began:.1f} s")
    yield cluster
    logs = " ".join(cluster.log_file(name).read_text(errors="replace") for name in cluster.components
                    if cluster.log_file(name).is_file())
    assert s3.secret_key not in logs and s3.access_key not in logs


def segment_metadata(pinot, table_with_type: str, segment: str) -> dict[str, str]:
    response = requests.get(f"{pinot.controller_url}/zk/get", timeout=30, params={
        "path": f"/{CLUSTER_NAME}/PROPERTYSTORE/SEGMENTS/{table_with_type}/{segment}"})
    response.raise_for_status()
    return json.loads(response.text)["simpleFields"]


def segments(pinot, table: str, table_type: str) -> list[str]:
    response = requests.get(f"{pinot.controller_url}/segments/{table}", params={"type": table_type}, timeout=30)
    response.raise_for_status()
    return [name for entry in response.json() for name in entry.get(table_type, [])]


def create_table(pinot, config: dict) -> None:
    name = config["tableName"]
    requests.post(f"{pinot.controller_url}/schemas", json=id_ts_schema(name), timeout=30).raise_for_status()
    response = requests.post(f"{pinot.controller_url}/tables", json=config, timeout=60)
    assert response.ok, response.text


def online_on(pinot, table_with_type: str, segment: str) -> set[str]:
    table, _sep, table_type = table_with_type.rpartition("_")
    response = requests.get(f"{pinot.controller_url}/tables/{table}/externalview", timeout=30)
    states = (response.json().get(table_type) or {}).get(segment, {}) if response.ok else {}
    return {instance for instance, state in states.items() if state == "ONLINE"}


def download(controller_url: str, table: str, segment: str) -> tuple[int, int]:
    response = requests.get(f"{controller_url}/segments/{table}/{segment}", timeout=60)
    return response.status_code, len(response.content)


def upload_rows(pinot, table: str, rows: int) -> str:
    """An OFFLINE table of `rows` rows in one segment, uploaded through the first controller; its segment name."""
    create_table(pinot, {"tableName": table, "tableType": "OFFLINE", "tenants": {}, "metadata": {},
                         "tableIndexConfig": {}, "segmentsConfig": {"schemaName": table, "timeColumnName": "ts",
                                                                    "replication": str(len(pinot.server_names))}})
    now = int(time.time() * 1000)
    ingest_csv(pinot.controller_url, f"{table}_OFFLINE", "id,ts", [(f"r{i}", now + i) for i in range(rows)])
    (segment,) = segments(pinot, table, "OFFLINE")
    wait_until(f"{rows} rows", lambda: row_counts(pinot, table) == (rows, rows))
    return segment


@pytest.mark.every_version
def test_an_uploaded_segment_is_in_the_bucket_and_a_server_that_lost_it_downloads_it_back(deep_store_pinot, s3):
    pinot = deep_store_pinot
    table = "rides"
    segment = upload_rows(pinot, table, 7)
    assert f"{PREFIX}/{table}/{segment}" in s3.keys(f"{PREFIX}/{table}/")
    assert segment_metadata(pinot, f"{table}_OFFLINE", segment)["segment.download.url"] == \
        f"s3://{s3.bucket}/{PREFIX}/{table}/{segment}"
    # Either controller serves it: both read the bucket.
    for name in pinot.controller_names:
        status, size = download(pinot.controller_url_of(name), table, segment)
        assert status == 200 and size > 0, name

    # A server's volume is lost: it comes back empty and fetches the segment from the bucket.
    pinot.stop_component("server-0")
    data = pinot.component_dir("server-0")
    for directory in ("index", "segmentTar"):
        shutil.rmtree(data / directory)
    began = time.monotonic()
    pinot.start_component("server-0")
    wait_until("the segment online on both servers again",
               lambda: len(online_on(pinot, f"{table}_OFFLINE", segment)) == 2, timeout=120)
    print(f"server back with its segment from the bucket in {time.monotonic() - began:.1f} s")
    assert any(segment in path.name for path in (data / "index").rglob("*"))
    assert row_counts(pinot, table) == (7, 7)


def test_without_a_deep_store_a_second_controller_does_not_serve_what_the_first_received(fresh_pinot):
    """Why pinotops refuses several controllers without a deep store, shown on real Pinot."""
    pinot = fresh_pinot(servers=1, minion=False, controllers=2)
    table = "trips"
    segment = upload_rows(pinot, table, 3)
    url = segment_metadata(pinot, f"{table}_OFFLINE", segment)["segment.download.url"]
    assert url == f"{pinot.controller_url}/segments/{table}/{segment}"  # the first controller, by address
    first, second = (download(pinot.controller_url_of(name), table, segment) for name in pinot.controller_names)
    print(f"download of {segment}: first controller {first}, second controller {second}")
    assert first[0] == 200 and second[0] == 404


def create_realtime_table(pinot, table: str, **segments_config: str) -> None:
    pinot.create_kafka_topic(table)
    create_table(pinot, {
        "tableName": table, "tableType": "REALTIME", "tenants": {}, "metadata": {},
        "segmentsConfig": {"schemaName": table, "timeColumnName": "ts", "replicasPerPartition": "2",
                           **segments_config},
        "tableIndexConfig": {"loadMode": "MMAP", "streamConfigs": {
            "streamType": "kafka", "stream.kafka.topic.name": table,
            "stream.kafka.broker.list": pinot.kafka_bootstrap, "stream.kafka.consumer.type": "lowlevel",
            "stream.kafka.consumer.factory.class.name": pinot.kafka_consumer_factory,
            "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "5"}}})


def two_committed(pinot, table: str) -> list[tuple[str, str]] | None:
    """(segment, download URL) of the table's committed (DONE) realtime segments, once there are two."""
    done = []
    for segment in segments(pinot, table, "REALTIME"):
        metadata = segment_metadata(pinot, f"{table}_REALTIME", segment)
        if metadata.get("segment.realtime.status") == "DONE":
            done.append((segment, metadata.get("segment.download.url")))
    return done if len(done) >= 2 else None


@pytest.mark.every_version
def test_realtime_segment_completion_commits_to_the_bucket(deep_store_pinot, s3):
    """Two tables of two replicas: the default commit (the server sends the segment to the controller, which writes
    it to the bucket) and peer download, the documented option, with which the committing server uploads it to
    pinot.server.instance.segment.store.uri itself and replicas may fetch it from each other."""
    pinot = deep_store_pinot
    tables = {"clicks": {}, "views": {"peerSegmentDownloadScheme": "http"}}
    for table, segments_config in tables.items():
        create_realtime_table(pinot, table, **segments_config)
    began = time.monotonic()
    for table in tables:
        produce_rows(pinot, table, [f"{table}{i}" for i in range(12)])
    for table in tables:
        done = wait_until(f"two committed segments of {table}", lambda table=table: two_committed(pinot, table),
                          timeout=120)
        print(f"{table}: {len(done)} realtime segments committed {time.monotonic() - began:.1f} s after the rows")
        keys = s3.keys(f"{PREFIX}/{table}/")
        for segment, url in done:
            assert url.startswith(f"s3://{s3.bucket}/{PREFIX}/{table}/{segment}"), url
            assert url.removeprefix(f"s3://{s3.bucket}/") in keys
        wait_until(f"12 rows of {table}", lambda table=table: row_counts(pinot, table) == (12, 12))
