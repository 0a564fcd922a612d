"""Tables with rows on the shared test bed: REALTIME from its Kafka, OFFLINE from a CSV; row counts through its
broker."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterator

import requests


@contextlib.contextmanager
def realtime_table(pinot, prefix: str = "rt_", name: str | None = None) -> Iterator[str]:
    """A schema, a topic of one partition and a REALTIME table reading it from the start (named `name`, or
    `prefix` and a random suffix); removed afterwards."""
    name = name or prefix + secrets.token_hex(4)
    pinot.create_kafka_topic(name)
    url = pinot.controller_url
    requests.post(f"{url}/schemas", json=id_ts_schema(name), timeout=30).raise_for_status()
    requests.post(f"{url}/tables", timeout=60, json={
        "tableName": name, "tableType": "REALTIME",
        "segmentsConfig": {"schemaName": name, "timeColumnName": "ts", "replicasPerPartition": "1"},
        "tenants": {}, "tableIndexConfig": {"loadMode": "MMAP", "streamConfigs": {
            "streamType": "kafka", "stream.kafka.topic.name": name,
            "stream.kafka.broker.list": pinot.kafka_bootstrap, "stream.kafka.consumer.type": "lowlevel",
            "stream.kafka.consumer.factory.class.name": pinot.kafka_consumer_factory,
            "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        }},
        "metadata": {},
    }).raise_for_status()
    try:
        yield name
    finally:
        requests.delete(f"{url}/tables/{name}", params={"type": "realtime"}, timeout=60)
        requests.delete(f"{url}/schemas/{name}", timeout=60)


def id_ts_schema(name: str, *extra: dict) -> dict:
    """Schema `name`: a STRING `id`, a millisecond `ts`, and any `extra` dimension field specs."""
    return {"schemaName": name,
            "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"}, *extra],
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                    "granularity": "1:MILLISECONDS"}]}


@contextlib.contextmanager
def offline_table(pinot, prefix: str = "off_", segments: int = 1, replication: int = 1) -> Iterator[str]:
    """An OFFLINE table with `segments` segments of three rows each; removed afterwards."""
    name = prefix + secrets.token_hex(3)
    url = pinot.controller_url
    requests.post(f"{url}/schemas", json=id_ts_schema(name), timeout=30).raise_for_status()
    requests.post(f"{url}/tables", timeout=60, json={
        "tableName": name, "tableType": "OFFLINE", "tenants": {}, "metadata": {}, "tableIndexConfig": {},
        "segmentsConfig": {"schemaName": name, "timeColumnName": "ts", "replication": str(replication)},
    }).raise_for_status()
    try:
        now = int(time.time() * 1000)
        for segment in range(segments):
            ingest_csv(url, f"{name}_OFFLINE", "id,ts", [(f"{segment}-{row}", now + row) for row in range(3)])
        yield name
    finally:
        requests.delete(f"{url}/tables/{name}", params={"type": "offline"}, timeout=60)
        requests.delete(f"{url}/schemas/{name}", timeout=60)


def produce_rows(pinot, table: str, ids: list[str]) -> None:
    now = int(time.time() * 1000)
    pinot.produce(table, [json.dumps({"id": row_id, "ts": now + index}) for index, row_id in enumerate(ids)])


def row_counts(pinot, table: str) -> tuple[int, int] | None:
    """(rows, distinct ids) as the broker answers now; None while the table cannot be queried yet."""
    response = requests.post(f"{pinot.broker_url}/query/sql", timeout=30,
                             json={"sql": f"SELECT COUNT(*), DISTINCTCOUNT(id) FROM {table}"})
    body = response.json() if response.ok else {}
    if body.get("exceptions") or not body.get("resultTable"):
        return None
    rows, distinct = body["resultTable"]["rows"][0]
    return int(rows), int(distinct)


def ingest_csv(controller_url: str, table_with_type: str, header: str, rows: list[tuple]) -> None:
    """One segment of `rows`, built and uploaded by the controller (/ingestFromFile)."""
    csv = header + "\n" + "".join(",".join(str(value) for value in row) + "\n" for row in rows)
    batch = json.dumps({"inputFormat": "csv", "recordReader.prop.delimiter": ","})
    response = requests.post(f"{controller_url}/ingestFromFile?tableNameWithType={table_with_type}"
                             f"&batchConfigMapStr={urllib.parse.quote(batch)}", files={"file": ("rows.csv", csv)},
                             timeout=120)
    assert response.ok, f"ingesting into {table_with_type}: {response.status_code} {response.text[:500]}"
