"""pinot_task against the real controller and minion: SegmentGenerationAndPushTask ingests the CSV files of a local
input directory (the minion runs on this machine and reads it), the rows are counted through the broker, a rerun
with no new file writes nothing, and a malformed file fails the run naming its subtask and file.

The examples run as written, with the example's table standing for the test's own.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.examples import Runner, assert_ok, examples_text
from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import id_ts_schema, row_counts

pytestmark = pytest.mark.integration

TYPE = "SegmentGenerationAndPushTask"
EXAMPLE_TABLE = "web_logs_OFFLINE"


@contextlib.contextmanager
def ingested_table(pinot, inputs: Path) -> Iterator[str]:
    """An OFFLINE table whose SegmentGenerationAndPushTask appends the CSV files of `inputs`; removed afterwards."""
    name = "task_" + secrets.token_hex(3)
    url = pinot.controller_url
    requests.post(f"{url}/schemas", json=id_ts_schema(name), timeout=30).raise_for_status()
    response = requests.post(f"{url}/tables", timeout=60, json={
        "tableName": name, "tableType": "OFFLINE", "tenants": {}, "metadata": {}, "tableIndexConfig": {},
        "segmentsConfig": {"schemaName": name, "timeColumnName": "ts", "replication": "1"},
        "ingestionConfig": {"batchIngestionConfig": {
            "segmentIngestionType": "APPEND", "segmentIngestionFrequency": "DAILY",
            "batchConfigMaps": [{"inputDirURI": inputs.as_uri(), "includeFileNamePattern": "glob:**/*.csv",
                                 "inputFormat": "csv"}]}},
        "task": {"taskTypeConfigsMap": {TYPE: {}}},
    })
    assert response.ok, response.text
    try:
        yield name
    finally:
        requests.delete(f"{url}/tables/{name}", params={"type": "offline", "ignoreActiveTasks": "true"}, timeout=60)
        requests.delete(f"{url}/schemas/{name}", timeout=60)


def write_csv(inputs: Path, file: str, rows: list[tuple[str, str]]) -> None:
    (inputs / file).write_text("id,ts\n" + "".join(f"{row_id},{ts}\n" for row_id, ts in rows))


def task_module(pinot, check=False, **args):
    return run_module("pinot_task", dict({"controller_url": pinot.controller_url, "task_type": TYPE}, **args),
                      check=check, diff=True)


def tasks_of(pinot, table: str) -> dict[str, str]:
    """The SegmentGenerationAndPushTask tasks Pinot has for the table (none while the type has no queue: 500)."""
    response = requests.get(f"{pinot.controller_url}/tasks/{TYPE}/{table}/state", timeout=30)
    if response.status_code == 500 and "does not exist" in response.text:
        return {}
    response.raise_for_status()
    return response.json()


@pytest.mark.every_version
def test_ingest_files_then_nothing_new_then_a_bad_file_fails_naming_it(pinot, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_csv(inputs, "one.csv", [("a", 1700000000000), ("b", 1700000000001), ("c", 1700000000002)])
    write_csv(inputs, "two.csv", [("d", 1700000000003), ("e", 1700000000004)])
    with ingested_table(pinot, inputs) as name:
        table = f"{name}_OFFLINE"
        predicted = task_module(pinot, check=True, table=name)
        assert not predicted.get("failed"), predicted["msg"]
        assert (predicted["changed"], predicted["executed_requests"], predicted["tables"]) == (True, [], [table])
        assert predicted["diff"] == {"before": {"scheduled": {}},
                                     "after": {"scheduled": {f"{TYPE} for {table}": "would schedule"}}}
        assert any("no dry run" in warning for warning in predicted["warnings"]), predicted
        assert tasks_of(pinot, table) == {}

        # The example, its table standing for this one: both files, one subtask each, waited for.
        task = yaml.safe_load(examples_text("pinot_task").replace("http://localhost:9000", pinot.controller_url)
                              .replace(EXAMPLE_TABLE, table))[0]
        done = Runner(tmp_path, pinot.controller_url).run("pinot_task", task["name"], task)
        assert_ok(done, changed=True)
        assert done["executed_requests"] == [f"POST /tasks/schedule?taskType={TYPE}&tableName={table}"]
        [scheduled] = done["tasks"]
        assert scheduled["state"] == "COMPLETED" and scheduled["name"].startswith(f"Task_{TYPE}_"), scheduled
        assert list(scheduled["subtasks"].values()) == ["COMPLETED", "COMPLETED"], scheduled
        assert tasks_of(pinot, table) == {scheduled["name"]: "COMPLETED"}
        wait_until("the five rows", lambda: row_counts(pinot, name) == (5, 5), timeout=60)

        again = task_module(pinot, table=name)
        assert (again["changed"], again["executed_requests"], again["tasks"]) == (False, [], [])
        assert again["diff"] == {"before": {"scheduled": {}}, "after": {"scheduled": {}}}
        assert len(tasks_of(pinot, table)) == 1

        write_csv(inputs, "three.csv", [("f", 1700000000005)])
        (inputs / "bad.csv").write_text("id,ts\nz,not-a-number\n")
        failed = task_module(pinot, table=table)
        assert failed["failed"] and failed["changed"] is True, failed
        assert failed["executed_requests"] == [f"POST /tasks/schedule?taskType={TYPE}&tableName={table}"]
        [ran] = failed["tasks"]
        assert sorted(ran["subtasks"].values()) == ["COMPLETED", "TASK_ERROR"], ran  # Pinot: the task COMPLETED
        [(subtask, error)] = ran["errors"].items()
        assert ran["subtasks"][subtask] == "TASK_ERROR"
        assert error.startswith(f"{table} file:{inputs}/bad.csv: java.lang.RuntimeException"), error
        assert failed["msg"].startswith(f"1 of 2 {TYPE} subtask(s) failed: {ran['name']} (COMPLETED): {subtask}: "
                                        f"{table} file:{inputs}/bad.csv"), failed["msg"]
        wait_until("the good file's row", lambda: row_counts(pinot, name) == (6, 6), timeout=60)

        # Bad input names the field; nothing is sent.
        for args, message in (({"table": f"{name}_REALTIME"}, f"no REALTIME table named '{name}'"),
                              ({"table": name, "task_type": "MergeRollupTask"},
                               f"{table} has no MergeRollupTask in its task config")):
            refused = task_module(pinot, **args)
            assert refused["failed"] and refused["field"] == "table" and message in refused["msg"], refused
            assert refused["executed_requests"] == []


@pytest.mark.every_version
def test_the_check_mode_example_sends_nothing(pinot, tmp_path):
    task = yaml.safe_load(examples_text("pinot_task").replace("http://localhost:9000", pinot.controller_url))[1]
    predicted = Runner(tmp_path, pinot.controller_url).run("pinot_task", task["name"], task)
    assert_ok(predicted)
    assert predicted["executed_requests"] == [] and predicted["tasks"] == [], predicted
    tables = requests.get(f"{pinot.controller_url}/tables", params={"taskType": "MergeRollupTask"}, timeout=30)
    assert predicted["tables"] == sorted(tables.json()["tables"])
    assert predicted["changed"] is bool(predicted["tables"])
