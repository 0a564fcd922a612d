"""Table operations against the real controller, on OFFLINE tables with segments: pinot_schema reload=true,
pinot_table_reload, pinot_table_rebalance and pinot_tenant_rebalance."""

import pytest
import requests

from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import id_ts_schema, offline_table

pytestmark = pytest.mark.integration


@pytest.fixture
def table(pinot):
    """One segment on one of the two servers (replication 1)."""
    with offline_table(pinot, "ops_") as name:
        yield name


def module(pinot, module_name, check=False, **args):
    return run_module(module_name, dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def needs_reload(pinot, table):
    found = requests.get(f"{pinot.controller_url}/segments/{table}_OFFLINE/needReload", timeout=30)
    found.raise_for_status()
    return found.json()["needReload"]


def sql(pinot, query):
    body = requests.post(f"{pinot.broker_url}/query/sql", json={"sql": query}, timeout=30).json()
    assert not body.get("exceptions"), body
    return body["resultTable"]["rows"]


def answered(pinot, query):
    """The rows, or None while the broker does not know the table yet (BrokerResourceMissingError right after
    the table is created): what a wait asks."""
    body = requests.post(f"{pinot.broker_url}/query/sql", json={"sql": query}, timeout=30).json()
    return None if body.get("exceptions") else body["resultTable"]["rows"]


@pytest.mark.every_version
def test_schema_reload_and_table_reload_run_to_the_end(pinot, table):
    wait_until("the segment to answer", lambda: answered(pinot, f"SELECT COUNT(*) FROM {table}") == [[3]],
               timeout=60)
    current = module(pinot, "pinot_table_reload", check=True, name=table)
    assert (current["changed"], current["executed_requests"]) == (False, [])
    assert current["reloads"] == [{"table_type": "OFFLINE", "need_reload": False, "job_id": None,
                                   "status": "not needed"}]

    # A schema change with reload: the reload job is followed until every segment is reloaded.
    country = {"name": "country", "dataType": "STRING", "defaultNullValue": "nowhere"}
    changed = module(pinot, "pinot_schema", schema=id_ts_schema(table, country), reload=True)
    assert changed["executed_requests"] == [f"PUT /schemas/{table}?reload=false",
                                            f"POST /segments/{table}/reload?type=OFFLINE"]
    reload = changed["reload"]
    assert reload["status"] == "done", reload
    assert reload["reloads"][0].items() >= {"table_type": "OFFLINE", "status": "done", "segments": 1,
                                            "reloaded_segments": 1, "need_reload_after": False}.items()
    assert sql(pinot, f"SELECT country FROM {table} LIMIT 1") == [["nowhere"]]

    # A change without reload leaves the segment behind; pinot_table_reload sees it, reloads, and then rests.
    city = {"name": "city", "dataType": "STRING", "defaultNullValue": "none"}
    assert module(pinot, "pinot_schema", schema=id_ts_schema(table, country, city))["changed"] is True
    wait_until("the servers to report needReload", lambda: needs_reload(pinot, table), timeout=60)
    predicted = module(pinot, "pinot_table_reload", check=True, name=table)
    assert (predicted["changed"], predicted["changes"], predicted["executed_requests"]) == (
        True, ["reload OFFLINE"], [])
    assert predicted["diff"] == {"before": {"OFFLINE": {"need_reload": True}},
                                 "after": {"OFFLINE": {"need_reload": False}}}
    reloaded = module(pinot, "pinot_table_reload", name=table)
    assert reloaded["executed_requests"] == [f"POST /segments/{table}/reload?type=OFFLINE"]
    assert reloaded["reloads"][0].items() >= {"status": "done", "segments": 1, "reloaded_segments": 1,
                                              "need_reload_after": False}.items()
    assert sql(pinot, f"SELECT city FROM {table} LIMIT 1") == [["none"]]
    again = module(pinot, "pinot_table_reload", name=table)
    assert (again["changed"], again["executed_requests"]) == (False, [])

    missing = module(pinot, "pinot_table_reload", name=table, table_type="REALTIME")
    assert missing["failed"] and missing["field"] == "name" and missing["executed_requests"] == []


@pytest.mark.every_version
def test_rebalance_after_a_replication_change_then_nothing_to_move(pinot, table):
    config = requests.get(f"{pinot.controller_url}/tables/{table}", timeout=30).json()["OFFLINE"]
    config["segmentsConfig"]["replication"] = "2"
    # rebalance never: the segment stays where it is, for the rebalance module to move
    assert module(pinot, "pinot_table", table=config, rebalance={"when": "never"})["changed"] is True

    predicted = module(pinot, "pinot_table_rebalance", check=True, name=table)
    assert (predicted["changed"], predicted["changes"], predicted["executed_requests"]) == (
        True, ["rebalance OFFLINE"], [])
    entry = predicted["rebalances"][0]
    assert entry["status"] == "would rebalance" and entry["dry_run"]["status"] == "DONE"
    assert entry["dry_run"]["segments_to_move"] == 1 and len(entry["dry_run"]["servers_getting_segments"]) == 1
    assert set(entry["pre_checks"].values()) <= {"PASS", "WARN"}, entry["pre_checks"]
    assert predicted["diff"] == {"before": {"OFFLINE": {"segments_to_move": 1}},
                                 "after": {"OFFLINE": {"segments_to_move": 0}}}

    done = module(pinot, "pinot_table_rebalance", name=table, min_available_replicas=1)
    assert len(done["executed_requests"]) == 1, done["executed_requests"]
    sent = done["executed_requests"][0]
    assert sent.startswith(f"POST /tables/{table}/rebalance?") and "dryRun=false" in sent
    for parameter in ("reassignInstances=true", "includeConsuming=true", "minAvailableReplicas=1",
                      "minimizeDataMovement=ENABLE", "type=OFFLINE"):
        assert parameter in sent, sent
    assert done["rebalances"][0]["status"] == "DONE" and done["rebalances"][0]["job_id"]
    view = requests.get(f"{pinot.controller_url}/tables/{table}/externalview", timeout=30).json()["OFFLINE"]
    assert [sorted(states.values()) for states in view.values()] == [["ONLINE", "ONLINE"]], view

    again = module(pinot, "pinot_table_rebalance", name=table)
    assert (again["changed"], again["executed_requests"], again["rebalances"][0]["status"]) == (False, [], "NO_OP")
    missing = module(pinot, "pinot_table_rebalance", name=table, table_type="REALTIME")
    assert missing["failed"] and missing["field"] == "name" and missing["executed_requests"] == []


@pytest.mark.every_version
def test_tenant_rebalance_after_a_replication_change_then_nothing_to_move(pinot, table):
    config = requests.get(f"{pinot.controller_url}/tables/{table}", timeout=30).json()["OFFLINE"]
    config["segmentsConfig"]["replication"] = "2"
    assert module(pinot, "pinot_table", table=config, rebalance={"when": "never"})["changed"] is True
    only_this = dict(name="DefaultTenant", include_tables=[f"{table}_OFFLINE"])  # the shared bed has other tables

    predicted = module(pinot, "pinot_tenant_rebalance", check=True, **only_this)
    assert (predicted["changed"], predicted["changes"], predicted["executed_requests"]) == (
        True, [f"rebalance {table}_OFFLINE"], [])
    assert [(entry["table"], entry["status"]) for entry in predicted["rebalances"]] == [
        (f"{table}_OFFLINE", "would rebalance")]
    assert (predicted["dry_run"]["segments_to_move"], len(predicted["dry_run"]["servers_getting_segments"])) == (1, 1)
    assert predicted["diff"] == {"before": {"segments_to_move": 1, "tables_to_rebalance": [f"{table}_OFFLINE"]},
                                 "after": {"segments_to_move": 0, "tables_to_rebalance": []}}

    done = module(pinot, "pinot_tenant_rebalance", **only_this)
    assert done["executed_requests"] == ["POST /tenants/DefaultTenant/rebalance"], done
    assert done["job_id"] and done["rebalances"][0]["status"] == "DONE"
    view = requests.get(f"{pinot.controller_url}/tables/{table}/externalview", timeout=30).json()["OFFLINE"]
    assert [sorted(states.values()) for states in view.values()] == [["ONLINE", "ONLINE"]], view

    again = module(pinot, "pinot_tenant_rebalance", **only_this)
    assert (again["changed"], again["executed_requests"], again["rebalances"][0]["status"]) == (False, [], "NO_OP")

    # Pinot answers an unknown tenant or table with an empty dry run; the module names the field instead.
    for bad, field in ((dict(only_this, name="NoSuchTenant"), "name"),
                       (dict(only_this, include_tables=["no_such_table_OFFLINE"]), "include_tables"),
                       (dict(only_this, exclude_tables=[table]), "exclude_tables")):
        refused = module(pinot, "pinot_tenant_rebalance", **bad)
        assert (refused["failed"], refused["field"], refused["executed_requests"]) == (True, field, []), refused
