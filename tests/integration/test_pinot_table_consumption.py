"""pinot_table_consumption against the real controller of each tested version, on a table fed from Kafka."""

import time

import pytest
import requests

from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import produce_rows, realtime_table, row_counts

pytestmark = pytest.mark.integration


def consumption(pinot, check=False, **args):
    return run_module("pinot_table_consumption", dict(controller_url=pinot.controller_url, wait_timeout=120, **args),
                      check=check, diff=True)


def pause_status(pinot, table):
    found = requests.get(f"{pinot.controller_url}/tables/{table}/pauseStatus", timeout=10)
    found.raise_for_status()
    return found.json()


def consuming_in_external_view(pinot, table):
    view = requests.get(f"{pinot.controller_url}/tables/{table}/externalview", timeout=10).json().get("REALTIME")
    return sorted(segment for segment, states in (view or {}).items() if "CONSUMING" in states.values())


@pytest.mark.every_version
def test_pause_resume_and_force_commit_keep_every_row_once(pinot_kafka):
    pinot = pinot_kafka
    with realtime_table(pinot) as table:
        produce_rows(pinot, table, [f"a{i}" for i in range(20)])
        wait_until("20 rows", lambda: row_counts(pinot, table) == (20, 20), timeout=120)
        consuming = pause_status(pinot, table)["consumingSegments"]
        assert consuming

        predicted = consumption(pinot, check=True, name=table, state="paused")
        assert (predicted["changed"], predicted["changes"], predicted["executed_requests"]) == (True, ["pause"], [])
        assert predicted["committed_segments"] == sorted(consuming)
        assert pause_status(pinot, table)["pauseFlag"] is False

        paused = consumption(pinot, name=table, state="paused", comment="test pause")
        assert paused["executed_requests"] == [f"POST /tables/{table}/pauseConsumption?comment=test pause"]
        assert paused["consumption"].items() >= {"table": table, "paused": True, "consuming_segments": [],
                                                 "reason_code": "ADMINISTRATIVE", "comment": "test pause"}.items()
        assert paused["diff"] == {"before": {"paused": False},
                                  "after": {"paused": True, "committed_segments": sorted(consuming)}}
        # Complete when the task ends: the servers hold no consuming segment, every row read is committed.
        assert consuming_in_external_view(pinot, table) == []
        assert row_counts(pinot, table) == (20, 20)
        again = consumption(pinot, name=table, state="paused")
        assert (again["changed"], again["executed_requests"]) == (False, [])
        assert consumption(pinot, name=table, force_commit=True)["executed_requests"] == []  # nothing consumes

        produce_rows(pinot, table, [f"b{i}" for i in range(10)])
        time.sleep(5)  # would be read by now, were the table consuming
        assert row_counts(pinot, table) == (20, 20)

        resumed = consumption(pinot, name=table, state="consuming")
        assert resumed["executed_requests"] == [f"POST /tables/{table}/resumeConsumption"]
        assert resumed["consumption"]["paused"] is False and resumed["consumption"]["consuming_segments"]
        assert resumed["diff"] == {"before": {"paused": True}, "after": {"paused": False}}
        # From the last committed offset: the rows sent while paused arrive, none of the earlier ones twice.
        wait_until("30 rows", lambda: row_counts(pinot, table) == (30, 30), timeout=120)
        assert consumption(pinot, name=table, state="consuming")["executed_requests"] == []

        now_consuming = pause_status(pinot, table)["consumingSegments"]
        committed = consumption(pinot, name=table, state="consuming", force_commit=True)
        assert committed["changes"] == ["force commit"]
        assert committed["executed_requests"] == [f"POST /tables/{table}/forceCommit"]
        assert committed["committed_segments"] == sorted(now_consuming)

        def new_consuming_segment():  # consumption goes on in the next segment of the partition
            return set(pause_status(pinot, table)["consumingSegments"]) - set(now_consuming)

        wait_until("a new consuming segment", new_consuming_segment, timeout=120)
        produce_rows(pinot, table, ["c0"])
        wait_until("31 rows", lambda: row_counts(pinot, table) == (31, 31), timeout=120)


def test_a_table_created_a_moment_ago_pauses(pinot_kafka):
    """No server holds the first consuming segment yet: Pinot would send the commit to nobody (HTTP 500 "No force
    commit message sent"), so the pause waits for a server to take it up."""
    pinot = pinot_kafka
    with realtime_table(pinot) as table:
        paused = consumption(pinot, name=table, state="paused")
        assert not paused.get("failed"), paused["msg"]
        assert paused["executed_requests"] == [f"POST /tables/{table}/pauseConsumption"]
        assert paused["consumption"]["paused"] is True and paused["consumption"]["consuming_segments"] == []
        assert consuming_in_external_view(pinot, table) == []


def test_bad_input_names_the_field_and_writes_nothing(pinot):
    missing = consumption(pinot, name="no_such_table", state="paused")
    assert missing["failed"] and missing["field"] == "name" and missing["executed_requests"] == []
    assert "no REALTIME table named 'no_such_table'" in missing["msg"]
    refused = consumption(pinot, name="no_such_table", state="paused", force_commit=True)
    assert refused["failed"] and refused["field"] == "force_commit"
