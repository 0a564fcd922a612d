"""Acceptance on Pinot's own configs: every example schema and table config that the Pinot version under test ships
(pinot-tools/src/main/resources/examples/{batch,stream}) is applied, then applied again with zero writes, then
checked with --check --diff predicting no change.

Each example directory gets its own name (`<tag>_<set>_<dir>`), since batch and stream, ssb and tpch reuse names
with different schemas. Stream configs point at the test bed's Kafka; their topics are created first.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.modules import run_module
from tests.testbed import pinot_build
from tests.testbed.pinot import CACHE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.every_version]

# Variants that cannot run here, with the reason; everything else must converge or name a capacity error.
LEFT_OUT = {
    "docker": "same table as its parent directory, for a Kafka host named 'kafka' in Pinot's docker demo",
    "kinesis": "needs AWS Kinesis, which this machine cannot reach",
}
# How the controller refuses a table that needs more servers than the test bed has, and a table that shares the
# instance partitions of such a table.
CAPACITY_ERRORS = ("Not enough qualified instances", "Couldn't find instance-partitions")
# Examples with a key Pinot does not know, so Pinot would drop it silently: the module refuses them, naming it.
# upsertJsonMeetupRsvp nests columnPartitionMap directly in tableIndexConfig instead of in segmentPartitionConfig.
UNKNOWN_KEYS = {"stream/upsertJsonMeetupRsvp REALTIME": "table.tableIndexConfig.columnPartitionMap.rsvp_id"}


def _left_out(path: Path) -> str | None:
    return next((reason for word, reason in LEFT_OUT.items() if word in path.name or word in path.parts), None)


def _renamed(value, names: dict[str, str]):
    """`value` with every schema or table name of `names` (raw or with a type suffix) renamed."""
    if isinstance(value, dict):
        return {key: _renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    if isinstance(value, str):
        raw, suffix = value.rsplit("_", 1) if value.endswith(("_OFFLINE", "_REALTIME")) else (value, "")
        if raw in names:
            return names[raw] + (f"_{suffix}" if suffix else "")
    return value


def _stream_configs(table: dict) -> list[dict]:
    ingestion = (table.get("ingestionConfig") or {}).get("streamIngestionConfig") or {}
    found = list(ingestion.get("streamConfigMaps") or [])
    legacy = (table.get("tableIndexConfig") or {}).get("streamConfigs")
    return found + ([legacy] if legacy else [])


def load_examples(root: Path, tag: str, pinot) -> tuple[list[dict], list[str]]:
    """[{dir, name, schema, tables}], and what was left out with why."""
    schema_files = sorted(root.glob("*/**/*_schema.json"))
    # Configs name tables of their own set (colocated tables share instance partitions): rename within a set.
    names: dict[Path, dict[str, str]] = {}
    for schema_file in schema_files:
        old = json.loads(schema_file.read_text())["schemaName"]
        names.setdefault(schema_file.parent.parent, {})[old] = "_".join(
            [tag, *schema_file.parent.relative_to(root).parts])
    examples, left_out = [], []
    for schema_file in schema_files:
        directory = schema_file.parent
        renames = names[directory.parent]
        schema = _renamed(json.loads(schema_file.read_text()), renames)
        tables = []
        for table_file in sorted(directory.rglob("*_table_config.json")):
            reason = _left_out(table_file.relative_to(root))
            if reason:
                left_out.append(f"{table_file.relative_to(root)}: {reason}")
                continue
            table = _renamed(json.loads(table_file.read_text()), renames)
            for stream in _stream_configs(table):
                stream["stream.kafka.topic.name"] = f"{tag}_{stream['stream.kafka.topic.name']}"
                stream["stream.kafka.broker.list"] = pinot.kafka_bootstrap
                if "stream.kafka.zk.broker.url" in stream:
                    stream["stream.kafka.zk.broker.url"] = f"{pinot.zk_address}/kafka"
            tables.append(table)
        examples.append({"dir": str(directory.relative_to(root)), "name": schema["schemaName"], "schema": schema,
                         "tables": tables})
    return examples, left_out


def topics(examples: list[dict]) -> dict[str, int]:
    """topic -> partitions: enough for the highest `stream.kafka.partition.ids` any config consumes."""
    found: dict[str, int] = {}
    for stream in (s for e in examples for t in e["tables"] for s in _stream_configs(t)):
        ids = [int(i) for i in str(stream.get("stream.kafka.partition.ids") or "0").split(",")]
        topic = stream["stream.kafka.topic.name"]
        found[topic] = max(found.get(topic, 1), max(ids) + 1)
    return found


def _apply(pinot, module, option, definition, check=False):
    return run_module(module, {"controller_url": pinot.controller_url, option: definition}, check=check, diff=check)


@pytest.fixture
def examples(pinot, pinot_version):
    if not pinot_build.has_source(pinot_version):
        pytest.skip(f"Pinot {pinot_version} has no source tarball in shared/pinot-source to take examples from")
    root = pinot_build.example_configs(pinot_version, CACHE_DIR / "pinot" / pinot_version / "examples")
    found, left_out = load_examples(root, f"x{uuid.uuid4().hex[:5]}", pinot)
    for topic, partitions in topics(found).items():
        pinot.create_kafka_topic(topic, partitions)
    yield found, left_out
    for example in found:
        for table in example["tables"]:
            run_module("pinot_table", {"controller_url": pinot.controller_url, "name": example["name"],
                                       "table_type": table["tableType"].upper(), "state": "absent",
                                       "delete_retention": "0d"})
        run_module("pinot_schema", {"controller_url": pinot.controller_url, "name": example["name"],
                                    "state": "absent"})


def test_every_shipped_example_converges_with_zero_writes_on_the_second_run(pinot, examples, pinot_version):
    found, left_out = examples
    assert len(found) >= 30, f"only {len(found)} examples found"
    applied, capacity, unknown_keys, refused = [], [], [], []
    for example in found:
        result = _apply(pinot, "pinot_schema", "schema", example["schema"])
        if result.get("failed"):
            refused.append(f"{example['dir']} schema: {result['msg']}")
            continue
        applied.append(("pinot_schema", "schema", example["schema"], example["dir"]))
        for table in example["tables"]:
            result = _apply(pinot, "pinot_table", "table", table)
            where = f"{example['dir']} {table['tableType']}"
            if result.get("failed") and where in UNKNOWN_KEYS:
                assert result["field"].startswith(UNKNOWN_KEYS[where]), result
                assert result["executed_requests"] == [], result
                unknown_keys.append(f"{where}: {result['msg']}")
            elif result.get("failed"):
                (capacity if any(e in result["msg"] for e in CAPACITY_ERRORS) else refused).append(
                    f"{where}: {result['msg']}")
            else:
                applied.append(("pinot_table", "table", table, where))
    print(f"\nPinot {pinot_version}: {len(found)} example directories, {len(applied)} objects applied, "
          f"{len(capacity)} refused for capacity, {len(unknown_keys)} refused for an unknown key, "
          f"{len(left_out)} left out")
    for line in capacity + unknown_keys + left_out:
        print("  " + line)
    assert refused == [], "\n".join(refused)
    assert len(unknown_keys) == len(UNKNOWN_KEYS), unknown_keys

    rewritten = []
    for module, option, definition, where in applied:
        again = _apply(pinot, module, option, definition)
        if again.get("failed") or again["changed"] or again["executed_requests"]:
            rewritten.append(f"{where}: {again.get('msg') or again.get('changes')} {again['executed_requests']}")
    assert rewritten == [], "second run wrote:\n" + "\n".join(rewritten)

    predicted = []
    for module, option, definition, where in applied:
        checked = _apply(pinot, module, option, definition, check=True)
        if checked.get("failed") or checked["changed"] or checked.get("diff", {}).get("before") != \
                checked.get("diff", {}).get("after"):
            predicted.append(f"{where}: {checked.get('msg') or checked.get('changes')}")
    assert predicted == [], "--check --diff on the converged estate predicts:\n" + "\n".join(predicted)
