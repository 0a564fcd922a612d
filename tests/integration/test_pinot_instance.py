"""pinot_instance against the real controller: a server drained, stopped and dropped from Helix with every row
still answering, then back as a new instance that the table spreads onto again.

The examples run as written, with the example's instance id and tenant standing for the test bed's second server
and DefaultTenant. The server is running with its DefaultTenant tags again when the test ends.
"""

from __future__ import annotations

import pytest
import requests
import yaml

from tests.support.examples import Runner, assert_clean_failure, assert_ok, examples_text
from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import offline_table, row_counts

pytestmark = pytest.mark.integration

EXAMPLE_SERVER = "Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098"
NEW_SERVER = "Server_pinot-server-hot-2.pinot-server-hot-headless.pinot.svc.cluster.local_8098"
TAGS = "DefaultTenant_OFFLINE,DefaultTenant_REALTIME"


def holders(url: str, table: str) -> dict[str, list[str]]:
    """{server: [segments]} of the table's OFFLINE ideal state."""
    ideal = requests.get(f"{url}/tables/{table}/idealstate", timeout=30).json().get("OFFLINE") or {}
    found: dict[str, list[str]] = {}
    for segment, states in ideal.items():
        for server in states:
            found.setdefault(server, []).append(segment)
    return found


def mapped_examples(url: str, server: str) -> dict[str, dict]:
    text = examples_text("pinot_instance").replace("http://localhost:9000", url)
    text = text.replace(EXAMPLE_SERVER, server).replace(NEW_SERVER, server).replace("hot_", "DefaultTenant_")
    return {task["name"]: task for task in yaml.safe_load(text)}


def instance_module(pinot, check=False, **args):
    return run_module("pinot_instance", dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


@pytest.mark.every_version
def test_drain_stop_drop_then_rejoin_keeps_every_row(pinot, tmp_path):
    url = pinot.controller_url
    first, second = sorted(n for n in pinot.instances if n.startswith("Server_"))
    component = next(n for n in pinot.server_names if second.endswith(f"_{pinot.components[n]['ports']['netty']}"))
    tasks = mapped_examples(url, second)
    runner = Runner(tmp_path, url)
    with offline_table(pinot, segments=4) as table:
        try:
            assert set(holders(url, table)) == {first, second}
            rows = (12, 12)
            wait_until("every row of the four segments", lambda: row_counts(pinot, table) == rows, timeout=60)

            # Draining both servers would leave the replication-1 table nowhere: Pinot's tag validation says no.
            refused = instance_module(pinot, instances=[first, second], state="drained")
            assert refused["failed"] and refused["field"] == "instances", refused
            assert "Pinot refuses to set the tags" in refused["msg"] and "DefaultTenant" in refused["msg"]
            assert refused["executed_requests"] == []

            planned = instance_module(pinot, check=True, instances=[second], state="drained")
            on_second = len(holders(url, table)[second])
            assert planned["changed"] and planned["executed_requests"] == []
            assert planned["rebalances"] == [{"table": table, "table_type": "OFFLINE", "status": "would rebalance",
                                              "segments_to_move": on_second}]
            assert planned["diff"]["before"][second]["segments"] == on_second
            assert planned["diff"]["after"][second] == dict(planned["diff"]["before"][second], tags=[], segments=0)

            drained = runner.run("pinot_instance", "Move every segment off the server that goes away",
                                 tasks["Move every segment off the server that goes away"])
            assert_ok(drained, changed=True)
            assert set(holders(url, table)) == {first}
            assert drained["instances"] == [{"instance": second, "registered": True, "live": True, "tags": [],
                                             "pools": {}, "segments": 0}]
            wait_until("the rows from the remaining server", lambda: row_counts(pinot, table) == rows, timeout=60)
            again = instance_module(pinot, instances=[second], state="drained")
            assert not again["changed"] and again["executed_requests"] == []

            # Still running: nothing is dropped, and the message says what to do.
            live = instance_module(pinot, instances=[second], state="absent", wait_timeout=2)
            assert_clean_failure(live, f"still live after 2s: {second}", "remove their pods first")

            pinot.stop_component(component)
            dropped = runner.run("pinot_instance", "Drop it from Helix once its pod has gone",
                                 tasks["Drop it from Helix once its pod has gone"])
            assert_ok(dropped, changed=True)
            assert dropped["executed_requests"] == [f"DELETE /instances/{second}"]
            assert requests.get(f"{url}/instances/{second}", timeout=10).status_code == 404
            assert row_counts(pinot, table) == rows
            gone = instance_module(pinot, instances=[second], state="absent")
            assert not gone["changed"] and gone["executed_requests"] == []

            # Back as a new instance (Pinot tags it DefaultTenant); the example puts it in service.
            pinot.start_component(component)
            wait_until("the server registered again",
                       lambda: requests.get(f"{url}/instances/{second}", timeout=10).ok, timeout=120)
            joined = runner.run("pinot_instance", "A new server joins the hot tenant and the hot tables spread onto it",
                                tasks["A new server joins the hot tenant and the hot tables spread onto it"])
            assert_ok(joined, changed=True)
            assert f"rebalance {table} OFFLINE" in joined["changes"]
            assert set(holders(url, table)) == {first, second}
            wait_until("every row after the spread", lambda: row_counts(pinot, table) == rows, timeout=60)
            settled = instance_module(pinot, instances=[second], tags=TAGS.split(","))
            assert not settled["changed"] and settled["executed_requests"] == []
        finally:
            if not pinot.is_running(component):
                pinot.start_component(component)
            wait_until("the server registered", lambda: requests.get(f"{url}/instances/{second}", timeout=10).ok,
                       timeout=120)
            requests.put(f"{url}/instances/{second}/updateTags", params={"tags": TAGS}, timeout=10).raise_for_status()


@pytest.mark.every_version
def test_a_pool_is_written_for_every_tag_and_nothing_else_of_the_instance_changes(pinot):
    """Pinot has no startup property for pools: pinot_instance writes them, sending every other field back."""
    url = pinot.controller_url
    server = sorted(n for n in pinot.instances if n.startswith("Server_"))[-1]
    before = requests.get(f"{url}/instances/{server}", timeout=30).json()
    kept = ("hostName", "port", "tags", "grpcPort", "adminPort", "queryServicePort", "queryMailboxPort", "enabled")
    try:
        predicted = instance_module(pinot, check=True, instances=[server], pool=1, rebalance=False)
        assert predicted["changed"] and predicted["executed_requests"] == []
        assert predicted["instances"][0]["pools"] == dict.fromkeys(before["tags"], 1)
        assert requests.get(f"{url}/instances/{server}", timeout=30).json()["pools"] in (None, {})

        result = instance_module(pinot, instances=[server], pool=1, rebalance=False)
        assert result["changed"] and result["executed_requests"] == [
            f"PUT /instances/{server}?updateBrokerResource=false"]
        after = requests.get(f"{url}/instances/{server}", timeout=30).json()
        assert {tag: int(pool) for tag, pool in after["pools"].items()} == dict.fromkeys(before["tags"], 1)
        assert {key: after.get(key) for key in kept} == {key: before.get(key) for key in kept}
        assert result["diff"]["after"][server]["pools"] == dict.fromkeys(before["tags"], 1)

        again = instance_module(pinot, instances=[server], pool=1, rebalance=False)
        assert not again["changed"] and again["executed_requests"] == []
    finally:
        body = {"host": before["hostName"], "port": int(before["port"]), "type": "SERVER", "tags": before["tags"],
                "pools": None, **{key: int(before.get(key) or -1) for key in kept[3:7]}}
        requests.put(f"{url}/instances/{server}", params={"updateBrokerResource": "false"}, json=body,
                     timeout=30).raise_for_status()
