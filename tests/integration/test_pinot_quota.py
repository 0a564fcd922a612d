"""pinot_database, pinot_application_quota and pinot_quota_info against the real controller of each tested version.

Every name is this file's own (`quota` and a random suffix). Pinot has no call that removes a database's quota
record (a removed quota leaves `{}`), so the fixtures delete the records they leave through the controller's
ZooKeeper API; an application quota removed through the API leaves only a null entry, which limits nothing.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests

from tests.support.examples import COLLECTIONS, Runner, assert_ok
from tests.support.modules import run_module
from tests.support.tables import id_ts_schema

pytestmark = pytest.mark.integration

EXAMPLE_DATABASES = ("sales", "marketing", "staging")
EXAMPLE_APPLICATIONS = ("dashboards", "batch-reports", "legacy-app")


def forget_databases(url: str, *names: str) -> None:
    """Delete the databases' quota records (what POST /databases/{db}/quotas leaves)."""
    cluster = requests.get(f"{url}/cluster/info", timeout=10).json()["clusterName"]
    for name in names:
        requests.delete(f"{url}/zk/delete", params={"path": f"/{cluster}/PROPERTYSTORE/CONFIGS/DATABASE/{name}"},
                        timeout=10)


def forget_applications(url: str, *names: str) -> None:
    for name in names:
        requests.post(f"{url}/applicationQuotas/{name}", timeout=10)


@pytest.fixture
def database(pinot):
    name = "quota" + secrets.token_hex(3)
    yield name
    for table in requests.get(f"{pinot.controller_url}/tables", headers={"database": name}, timeout=10).json()[
            "tables"]:
        requests.delete(f"{pinot.controller_url}/tables/{table}", params={"type": "offline"}, timeout=60)
    for schema in requests.get(f"{pinot.controller_url}/schemas", headers={"database": name}, timeout=10).json():
        requests.delete(f"{pinot.controller_url}/schemas/{schema}", timeout=30)
    forget_databases(pinot.controller_url, name)


@pytest.fixture
def applications(pinot):
    names = ["quota" + secrets.token_hex(3) for _index in range(2)]
    yield names
    forget_applications(pinot.controller_url, *names)


def module(pinot, module_name, check=False, **args):
    return run_module(module_name, dict(controller_url=pinot.controller_url, **args), check=check, diff=True)


def stored_quota(pinot, name):
    found = requests.get(f"{pinot.controller_url}/databases/{name}/quotas", headers={"database": name}, timeout=10)
    found.raise_for_status()
    return found.json()


def stored_applications(pinot):
    return requests.get(f"{pinot.controller_url}/applicationQuotas", timeout=10).json()


@pytest.mark.every_version
def test_database_quota_lifecycle(pinot, database):
    predicted = module(pinot, "pinot_database", check=True, name=database, max_queries_per_second=2.5)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["diff"] == {"before": {"databaseName": database},
                                 "after": {"databaseName": database, "maxQueriesPerSecond": 2.5}}
    assert stored_quota(pinot, database) == {}

    created = module(pinot, "pinot_database", name=database, max_queries_per_second=2.5)
    assert created["executed_requests"] == [f"POST /databases/{database}/quotas?maxQueriesPerSecond=2.5"]
    assert stored_quota(pinot, database) == {"maxQueriesPerSecond": "2.5"}
    assert not created.get("warnings"), created["warnings"]
    again = module(pinot, "pinot_database", name=database, max_queries_per_second="2.50")
    assert (again["changed"], again["executed_requests"]) == (False, [])

    # 1.0E7 is how Pinot stores ten million; read back as the same number, a second run is still a no-op.
    module(pinot, "pinot_database", name=database, max_queries_per_second=10000000)
    assert stored_quota(pinot, database) == {"maxQueriesPerSecond": "1.0E7"}
    assert module(pinot, "pinot_database", name=database, max_queries_per_second=1e7)["executed_requests"] == []

    info = module(pinot, "pinot_quota_info", database=database)
    assert info["databases"] == [{"databaseName": database, "maxQueriesPerSecond": 1e7, "tables": [],
                                  "schemas": []}]

    # Present without a rate: no quota of its own (Pinot keeps an empty record).
    cleared = module(pinot, "pinot_database", name=database)
    assert cleared["executed_requests"] == [f"POST /databases/{database}/quotas"]
    assert cleared["changes"] == ["maxQueriesPerSecond (removed)"]
    assert stored_quota(pinot, database) == {}
    assert module(pinot, "pinot_database", name=database, state="absent")["executed_requests"] == []

    module(pinot, "pinot_database", name=database, max_queries_per_second=4)
    removed = module(pinot, "pinot_database", name=database, state="absent")
    assert removed["executed_requests"] == [f"POST /databases/{database}/quotas"]
    assert removed["diff"]["before"] == {"databaseName": database, "maxQueriesPerSecond": 4.0}
    assert stored_quota(pinot, database) == {}


@pytest.mark.every_version
def test_absent_deletes_a_database_with_tables_only_when_told(pinot, database):
    url = pinot.controller_url
    for schema in ("events", "spare"):
        requests.post(f"{url}/schemas", json=id_ts_schema(f"{database}.{schema}"), timeout=30).raise_for_status()
    requests.post(f"{url}/tables", timeout=60, json={
        "tableName": f"{database}.events", "tableType": "OFFLINE", "tenants": {}, "metadata": {},
        "tableIndexConfig": {}, "segmentsConfig": {"timeColumnName": "ts", "replication": "1"}}).raise_for_status()
    module(pinot, "pinot_database", name=database, max_queries_per_second=3)

    refused = module(pinot, "pinot_database", name=database, state="absent")
    assert refused["failed"] is True and refused["field"] == "delete_tables", refused
    assert f"tables {database}.events and schemas {database}.events, {database}.spare" in refused["msg"]
    assert refused["executed_requests"] == []

    predicted = module(pinot, "pinot_database", check=True, name=database, state="absent", delete_tables=True)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["diff"]["before"] == {"databaseName": database, "maxQueriesPerSecond": 3.0,
                                           "tables": [f"{database}.events"],
                                           "schemas": [f"{database}.events", f"{database}.spare"]}
    assert requests.get(f"{url}/databases", timeout=10).json().count(database) == 1

    deleted = module(pinot, "pinot_database", name=database, state="absent", delete_tables=True)
    assert deleted["executed_requests"] == [f"DELETE /databases/{database}?dryRun=false",
                                            f"DELETE /schemas/{database}.spare",
                                            f"POST /databases/{database}/quotas"], deleted
    assert database not in requests.get(f"{url}/databases", timeout=10).json()
    assert requests.get(f"{url}/schemas", headers={"database": database}, timeout=10).json() == []
    assert stored_quota(pinot, database) == {}
    gone = module(pinot, "pinot_database", name=database, state="absent", delete_tables=True)
    assert (gone["changed"], gone["executed_requests"]) == (False, [])


@pytest.mark.every_version
def test_application_quotas_in_bulk(pinot, applications):
    first, second = applications
    definitions = [{"name": first, "max_queries_per_second": 25}, {"name": second, "max_queries_per_second": "0.5"}]
    predicted = module(pinot, "pinot_application_quota", check=True, definitions=definitions)
    assert (predicted["changed"], predicted["executed_requests"]) == (True, [])
    assert predicted["diff"]["after"] == {first: {"applicationName": first, "maxQueriesPerSecond": 25.0},
                                          second: {"applicationName": second, "maxQueriesPerSecond": 0.5}}
    assert first not in stored_applications(pinot)

    created = module(pinot, "pinot_application_quota", definitions=definitions)
    assert created["executed_requests"] == [f"POST /applicationQuotas/{first}?maxQueriesPerSecond=25",
                                            f"POST /applicationQuotas/{second}?maxQueriesPerSecond=0.5"]
    assert stored_applications(pinot).items() >= {first: 25.0, second: 0.5}.items()
    again = module(pinot, "pinot_application_quota", definitions=definitions)
    assert (again["changed"], again["executed_requests"]) == (False, [])

    changed = module(pinot, "pinot_application_quota", name=first, max_queries_per_second=30)
    assert changed["changes"] == ["maxQueriesPerSecond"] and stored_applications(pinot)[first] == 30.0
    info = module(pinot, "pinot_quota_info", application=first)
    assert (info["applications"], info["databases"]) == ({first: 30.0}, [])

    removed = module(pinot, "pinot_application_quota", definitions=[{"name": first}, {"name": second}],
                     state="absent")
    assert removed["executed_requests"] == [f"POST /applicationQuotas/{first}", f"POST /applicationQuotas/{second}"]
    assert not {first, second} & set(stored_applications(pinot))
    assert module(pinot, "pinot_application_quota", name=first, state="absent")["executed_requests"] == []


@pytest.mark.every_version
def test_bad_input_names_the_field_and_writes_nothing(pinot, database, applications):
    cases = [
        ("pinot_database", {"name": database, "max_queries_per_second": -1}, "max_queries_per_second"),
        ("pinot_database", {"name": database, "max_queries_per_second": "fast"}, "max_queries_per_second"),
        ("pinot_database", {"name": f"{database}.x", "max_queries_per_second": 1}, "name"),
        ("pinot_application_quota", {"name": applications[0], "max_queries_per_second": 0}, "max_queries_per_second"),
        ("pinot_application_quota", {"name": applications[0]}, "max_queries_per_second"),
        ("pinot_application_quota", {"definitions": [{"name": applications[0], "max_queries_per_second": 1},
                                                     {"name": applications[1], "max_queries_per_second": "NaN"}]},
         "definitions[1].max_queries_per_second"),
    ]
    for module_name, args, field in cases:
        result = module(pinot, module_name, **args)
        assert result["failed"] is True and result["field"] == field, result
        assert result["executed_requests"] == []
    assert stored_quota(pinot, database) == {}
    assert not set(applications) & set(stored_applications(pinot))


def test_examples_run_as_written(pinot, tmp_path: Path):
    """The EXAMPLES of the three modules, each in a playbook of its own, in their order."""
    assert (COLLECTIONS / "ansible_collections" / "pinotops" / "k8s").exists(), "run `make venv` first"
    url = pinot.controller_url
    runner = Runner(tmp_path, url)
    try:
        sales = runner.run("pinot_database", "At most 200 queries per second for the tables of the database sales")
        assert_ok(sales, changed=True)
        assert stored_quota(pinot, "sales") == {"maxQueriesPerSecond": "200.0"}
        several = runner.run("pinot_database", "Quotas of several databases in one task")
        assert_ok(several, changed=True)
        assert [item["changed"] for item in several["results"]] == [False, True, False]
        staging = runner.run("pinot_database", "Delete the database staging with all its tables and schemas (run "
                                               "with --check --diff first to see them)")
        assert_ok(staging, changed=False)

        assert_ok(runner.run("pinot_application_quota", "The dashboards may send 25 queries per second"),
                  changed=True)
        every = runner.run("pinot_application_quota", "Every application quota in one task")
        assert_ok(every, changed=True)
        assert stored_applications(pinot).items() >= {"dashboards": 25.0, "batch-reports": 2.5}.items()
        assert_ok(runner.run("pinot_application_quota", "The dashboards fall back to the cluster-wide default"),
                  changed=True)
        assert "dashboards" not in stored_applications(pinot)

        listing = runner.run("pinot_quota_info", "Every database and application quota")
        assert_ok(listing, changed=False)
        assert listing["applications"].get("batch-reports") == 2.5
        one = runner.run("pinot_quota_info", "The database sales")
        assert one["databases"][0]["maxQueriesPerSecond"] == 200.0
    finally:
        forget_databases(url, *EXAMPLE_DATABASES)
        forget_applications(url, *EXAMPLE_APPLICATIONS)
    ran = {module_name for module_name, _title in runner.ran}
    assert ran == {"pinot_database", "pinot_application_quota", "pinot_quota_info"}
    assert len(runner.ran) == 8
