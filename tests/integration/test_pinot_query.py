"""pinot_query against the real controller and broker, on an OFFLINE table of three rows of its own: a COUNT and a
selection with column names through the controller (POST /sql) and through the broker (POST /query/sql), the
same answer in check mode, Pinot's errors as failures with their codes, a query option that changes the answer,
input refused before anything is sent. The answers are compared with what the broker gives when asked directly.

The examples run as written, with `events` standing for the table and the example's broker URL for the test
bed's."""

from __future__ import annotations

import secrets
import time

import pytest
import requests
import yaml

from tests.support.examples import Runner, assert_clean_failure, assert_ok, examples_text
from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import id_ts_schema, ingest_csv

pytestmark = [pytest.mark.integration, pytest.mark.every_version]

CITIES = {"a": "paris", "b": "rome", "c": "paris"}
EXAMPLE_BROKER = "http://pinot-broker:8099"
JOIN = "SELECT a.id, b.city FROM {t} a JOIN {t} b ON a.id = b.id ORDER BY a.id"


def broker_answer(pinot, sql: str) -> dict:
    return requests.post(f"{pinot.broker_url}/query/sql", json={"sql": sql}, timeout=30).json()


@pytest.fixture(scope="module")
def table(pinot):
    """Table `query_<random>`: id, ts, city; three rows in one segment, answering through the broker."""
    name = "query_" + secrets.token_hex(3)
    url = pinot.controller_url
    requests.post(f"{url}/schemas", json=id_ts_schema(name, {"name": "city", "dataType": "STRING"}),
                  timeout=30).raise_for_status()
    try:
        requests.post(f"{url}/tables", timeout=60, json={
            "tableName": name, "tableType": "OFFLINE", "tenants": {}, "metadata": {}, "tableIndexConfig": {},
            "segmentsConfig": {"schemaName": name, "timeColumnName": "ts", "replication": "1"},
        }).raise_for_status()
        now = int(time.time() * 1000)
        ingest_csv(url, f"{name}_OFFLINE", "id,ts,city",
                   [(row_id, now + index, city) for index, (row_id, city) in enumerate(CITIES.items())])
        wait_until("the broker to answer the three rows", lambda: (broker_answer(
            pinot, f"SELECT COUNT(*) FROM {name}").get("resultTable") or {}).get("rows") == [[3]], timeout=60)
        yield name
    finally:
        requests.delete(f"{url}/tables/{name}", params={"type": "offline"}, timeout=60)
        requests.delete(f"{url}/schemas/{name}", timeout=60)


def query(pinot, check=False, **args):
    return run_module("pinot_query", dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def test_a_count_and_a_selection_through_the_controller_and_the_broker_in_check_mode_too(pinot, table):
    selection = f"SELECT id, city FROM {table} ORDER BY id"
    direct = broker_answer(pinot, selection)["resultTable"]
    for via in ("controller", "broker"):
        broker = {"broker_url": pinot.broker_url} if via == "broker" else {}
        counted = query(pinot, sql=f"SELECT COUNT(*) AS total FROM {table}", **broker)
        assert not counted.get("failed"), counted
        assert (counted["changed"], counted["executed_requests"], counted["via"]) == (False, [], via)
        assert (counted["columns"], counted["column_types"]) == (["total"], ["LONG"])
        assert counted["records"] == [{"total": 3}]
        assert counted["stats"].items() >= {"numDocsScanned": 3, "totalDocs": 3, "numSegmentsQueried": 1,
                                            "numServersQueried": 1, "numServersResponded": 1}.items()
        for check in (False, True):  # a read: check mode runs it and answers the same
            selected = query(pinot, check=check, sql=selection, **broker)
            assert (selected["changed"], selected["executed_requests"], selected["partial"]) == (False, [], False)
            assert selected["columns"] == direct["dataSchema"]["columnNames"] == ["id", "city"]
            assert selected["column_types"] == ["STRING", "STRING"]
            assert selected["rows"] == direct["rows"] == [[row_id, city] for row_id, city in CITIES.items()]
            assert selected["records"] == [{"id": row_id, "city": city} for row_id, city in CITIES.items()]
            assert selected["num_rows"] == 3 and "diff" not in selected


@pytest.mark.parametrize("via", ["controller", "broker"])
def test_pinots_errors_fail_with_their_code_and_message(pinot, table, via):
    broker = {"broker_url": pinot.broker_url} if via == "broker" else {}
    path = "/query/sql" if broker else "/sql"
    for sql, code, fragment in ((f"SELEC id FROM {table}", 150, "SQLParsingError"),
                                (f"SELECT nope FROM {table}", 710, "nope"),
                                (f"SELECT id FROM {table}_gone", 190, "TableDoesNotExist")):
        failed = query(pinot, sql=sql, **broker)
        assert failed["failed"] and (failed["changed"], failed["executed_requests"]) == (False, []), failed
        assert failed["msg"].startswith(f"POST {path} failed: Pinot could not run the query: error {code}: "), failed
        assert fragment in failed["msg"]
        assert [item["errorCode"] for item in failed["exceptions"]] == [code]
    # An option Pinot refuses: its HTTP error, with the status.
    refused = query(pinot, sql=f"SELECT id FROM {table}", query_options={"timeoutMs": 0}, **broker)
    assert refused["failed"] and refused["status"] == 500 and "timeoutMs must be a number" in refused["msg"]


def test_a_query_option_is_applied(pinot, table):
    """A join needs the multi-stage engine: refused by the single-stage one, answered with the option (or SET)."""
    join = JOIN.format(t=table)
    refused = query(pinot, sql=join)
    assert refused["failed"] and "error 150" in refused["msg"] and "multi-stage" in refused["msg"], refused
    expected = [[row_id, city] for row_id, city in CITIES.items()]
    for broker in ({}, {"broker_url": pinot.broker_url}):
        joined = query(pinot, sql=join, query_options={"useMultistageEngine": True}, **broker)
        assert not joined.get("failed"), joined
        assert joined["rows"] == expected and joined["columns"] == ["id", "city"]
    with_set = query(pinot, sql=f"SET useMultistageEngine = true; {join}")
    assert with_set["rows"] == expected


def test_bad_input_names_the_field_and_sends_nothing(pinot, table):
    for args, field in ((dict(sql=" "), "sql"),
                        (dict(sql=f"SELECT id FROM {table}", query_options={"timeoutMs": [1]}),
                         "query_options.timeoutMs"),
                        (dict(sql=f"INSERT INTO {table} FROM FILE 'file:///tmp/rows.csv'"), "sql")):
        failed = query(pinot, **args)
        assert failed["failed"] and failed["field"] == field and failed["executed_requests"] == [], failed
        assert "exceptions" not in failed  # refused here: nothing reached Pinot
    assert broker_answer(pinot, f"SELECT COUNT(*) FROM {table}")["resultTable"]["rows"] == [[3]]


def test_the_examples_run_as_written(pinot, table, tmp_path):
    text = examples_text("pinot_query").replace("http://localhost:9000", pinot.controller_url)
    text = text.replace(EXAMPLE_BROKER, pinot.broker_url).replace("events", table)
    tasks = {task["name"]: task for task in yaml.safe_load(text)}
    runner = Runner(tmp_path, pinot.controller_url)
    results = {name: runner.run("pinot_query", name, task) for name, task in tasks.items()}
    for result in results.values():
        assert_ok(result, changed=False)
        assert result["executed_requests"] == []
    counted, latest, joined = results.values()
    assert counted["records"] == [{"total": 3}]
    assert latest["via"] == "broker" and [row[0] for row in latest["rows"]] == sorted(CITIES, reverse=True)
    assert sorted(map(tuple, joined["rows"])) == [(row_id, 1) for row_id in sorted(CITIES)]
    # And the examples' only failure mode: a table that is not there fails cleanly, nothing sent.
    missing = yaml.safe_load(examples_text("pinot_query"))[0]
    missing["pinotops.k8s.pinot_query"]["controller_url"] = pinot.controller_url
    missing["pinotops.k8s.pinot_query"]["sql"] = f"SELECT COUNT(*) FROM {table}_gone"
    assert_clean_failure(runner.run("pinot_query", "missing table", missing), "error 190")
