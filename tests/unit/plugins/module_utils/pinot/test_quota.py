"""pinot_database, pinot_application_quota and pinot_quota_info on a scripted controller that answers as Pinot 1.4/1.5
do (measured): the database header is required, quotas come back as Java prints doubles, a database without a
quota record answers the cluster-wide default, DELETE /databases deletes tables with their schemas only."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import quota
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import per_object_options
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Plan, reconcile, reconcile_many


def java_double(text):
    """Java's Double.toString for the values the tests use: 200.0, 0.5, 1.2345678E7."""
    value = float(text)
    if value >= 1e7:
        exponent = len(str(int(value))) - 1
        return f"{value / 10 ** exponent!r}E{exponent}"
    return repr(value)


class Controller(PinotClient):
    """Databases (quota records, tables, schemas), application quotas and cluster configs, as Pinot keeps them."""

    def __init__(self, *, version="1.5.1-020ff0d", records=None, tables=None, schemas=None, apps=None, configs=None):
        super().__init__("http://pinot.invalid")
        self.version = version
        self.records = dict(records or {})  # database -> its quota record: {} or {"maxQueriesPerSecond": "1.0"}
        self.tables = list(tables or [])  # fully qualified raw names
        self.schemas = list(schemas or [])
        self.apps = dict(apps or {})
        self.configs = dict(configs or {})
        self.reads = []

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        params = params or {}
        shown = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        if method == "GET":
            self.reads.append(shown)
        else:
            self.executed_requests.append(f"{method} {shown}")
        parts = path.strip("/").split("/")
        database = (headers or {}).get("database", "default")
        if path == "/version":
            return {"pinot-controller": self.version} if self.version else None
        if path == "/cluster/configs":
            return dict(self.configs)
        if path == "/databases":
            return sorted({name.split(".")[0] if "." in name else "default" for name in self.tables})
        if path == "/tables":
            return {"tables": [name for name in self.tables if self._in(name, database)]}
        if path == "/schemas":
            return [name for name in self.schemas if self._in(name, database)]
        if parts[0] == "databases" and len(parts) == 3:
            assert parts[1] == database, "Database config name and request context does not match"
            if method == "GET":
                if parts[1] in self.records:
                    return dict(self.records[parts[1]])
                default = self.configs.get("databaseMaxQueriesPerSecond")
                return {"maxQueriesPerSecond": java_double(default)} if default else {}
            rate = params.get("maxQueriesPerSecond")
            self.records[parts[1]] = {"maxQueriesPerSecond": java_double(rate)} if rate else {}
            return {"status": "updated"}
        if parts[0] == "databases" and method == "DELETE":
            assert params.get("dryRun") == "false"
            gone = [name for name in self.tables if self._in(name, parts[1])]
            self.tables = [name for name in self.tables if name not in gone]
            self.schemas = [name for name in self.schemas if name not in gone]
            return {"dryRun": False, "deletedTables": [name + "_OFFLINE" for name in gone], "failedTables": []}
        if parts[0] == "schemas" and method == "DELETE":
            self.schemas.remove(parts[1])
            return {"status": "deleted"}
        if path == "/applicationQuotas":
            return {name: float(rate) for name, rate in self.apps.items() if rate is not None}
        if parts[0] == "applicationQuotas" and method == "POST":
            rate = params.get("maxQueriesPerSecond")
            self.apps[parts[1]] = rate
            return {"status": "updated"}
        raise AssertionError(f"unexpected {method} {path}")

    @staticmethod
    def _in(name, database):
        return name.startswith(database + ".") if database != "default" else "." not in name


def database(client, check_mode=False, **params):
    params = dict({"name": "sales", "max_queries_per_second": None, "delete_tables": False, "state": "present"},
                  **params)
    handler, desired = quota.build_database(client, params, check_mode)
    return reconcile(handler, desired, params["state"], check_mode)


def application(client, check_mode=False, **params):
    params = dict({"name": "dashboards", "max_queries_per_second": None, "state": "present"}, **params)
    handler, desired = quota.build_application(client, params, check_mode)
    return reconcile(handler, desired, params["state"], check_mode)


def test_a_database_quota_is_set_once_and_compared_as_pinot_stores_it():
    client = Controller()
    predicted = database(client, check_mode=True, max_queries_per_second=200)
    assert (predicted["changed"], client.executed_requests) == (True, [])
    assert predicted["after"] == {"databaseName": "sales", "maxQueriesPerSecond": 200.0}
    created = database(client, max_queries_per_second=200)
    assert client.executed_requests == ["POST /databases/sales/quotas?maxQueriesPerSecond=200"]
    assert client.records["sales"] == {"maxQueriesPerSecond": "200.0"} and created["warnings"] == []
    # The same limit written differently ("200.0", 2e2) is no change; 1.0E7 is read back as the number it is.
    for same in ("200.0", 2e2, " 200 "):
        assert database(client, max_queries_per_second=same)["changed"] is False
    database(client, max_queries_per_second=12345678)
    assert client.records["sales"] == {"maxQueriesPerSecond": "1.2345678E7"}
    assert database(client, max_queries_per_second=12345678)["changed"] is False
    assert len(client.executed_requests) == 2


def test_present_without_a_rate_removes_the_quota_and_a_database_without_one_is_no_change():
    client = Controller(records={"sales": {"maxQueriesPerSecond": "5.0"}})
    removed = database(client)
    assert removed["changes"] == ["maxQueriesPerSecond (removed)"]
    assert client.executed_requests == ["POST /databases/sales/quotas"] and client.records["sales"] == {}
    assert database(client)["changed"] is False
    fresh = Controller()
    assert database(fresh)["changed"] is False and fresh.executed_requests == []


def test_a_quota_equal_to_the_cluster_default_is_the_same_as_none():
    """Pinot answers the default for a database without a record: asking for that value writes nothing, and
    removing the quota of a database that has none does not write either."""
    client = Controller(configs={"databaseMaxQueriesPerSecond": "40"})
    assert database(client, max_queries_per_second=40)["changed"] is False
    assert database(client, state="absent")["changed"] is False
    assert client.executed_requests == []
    changed = database(client, max_queries_per_second=50)
    assert changed["changed"] is True and client.records["sales"] == {"maxQueriesPerSecond": "50.0"}


def test_absent_refuses_a_database_with_tables_unless_told_and_lists_them():
    client = Controller(records={"sales": {"maxQueriesPerSecond": "9.0"}}, tables=["sales.orders", "events"],
                        schemas=["sales.orders", "sales.spare", "events"])
    with pytest.raises(SpecError) as refused:
        database(client, state="absent")
    assert refused.value.field == "delete_tables"
    assert "tables sales.orders and schemas sales.orders, sales.spare" in refused.value.message
    assert client.executed_requests == []

    predicted = database(client, check_mode=True, state="absent", delete_tables=True)
    assert predicted["before"] == {"databaseName": "sales", "maxQueriesPerSecond": 9.0, "tables": ["sales.orders"],
                                   "schemas": ["sales.orders", "sales.spare"]}
    assert (predicted["after"], client.executed_requests) == (None, [])

    deleted = database(client, state="absent", delete_tables=True)
    assert deleted["changed"] is True
    assert client.executed_requests == ["DELETE /databases/sales?dryRun=false", "DELETE /schemas/sales.spare",
                                        "POST /databases/sales/quotas"]
    assert (client.tables, client.schemas, client.records["sales"]) == (["events"], ["events"], {})
    again = database(client, state="absent", delete_tables=True)
    assert again["changed"] is False and len(client.executed_requests) == 3


def test_a_table_pinot_could_not_delete_fails_the_task():
    class Stubborn(Controller):
        def request(self, method, path, **kwargs):
            if method == "DELETE" and path.startswith("/databases/"):
                self.executed_requests.append(f"DELETE {path}")
                return {"dryRun": False, "deletedTables": [],
                        "failedTables": [{"tableName": "sales.orders_OFFLINE", "errorMessage": "busy"}]}
            return super().request(method, path, **kwargs)

    client = Stubborn(tables=["sales.orders"], schemas=["sales.orders"])
    with pytest.raises(PinotError, match="sales.orders_OFFLINE: busy"):
        database(client, state="absent", delete_tables=True)


@pytest.mark.parametrize(("params", "field"), [
    ({"max_queries_per_second": -5}, "max_queries_per_second"),
    ({"max_queries_per_second": 0}, "max_queries_per_second"),
    ({"max_queries_per_second": "abc"}, "max_queries_per_second"),
    ({"max_queries_per_second": "NaN"}, "max_queries_per_second"),
    ({"max_queries_per_second": "Infinity"}, "max_queries_per_second"),
    ({"max_queries_per_second": True}, "max_queries_per_second"),
    ({"max_queries_per_second": 5, "state": "absent"}, "max_queries_per_second"),
    ({"name": "a.b"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "a/b"}, "name"),
    ({"name": "default", "state": "absent", "delete_tables": True}, "delete_tables"),
])
def test_bad_database_input_names_the_field_before_any_request(params, field):
    client = Controller()
    with pytest.raises(SpecError) as refused:
        database(client, **params)
    assert refused.value.field == field
    assert (client.executed_requests, client.reads) == ([], [])


def test_delete_tables_only_matters_for_absent():
    client = Controller(tables=["sales.orders"], schemas=["sales.orders"])
    assert database(client, delete_tables=True, max_queries_per_second=3)["changed"] is True
    assert client.tables == ["sales.orders"]


def test_application_quota_lifecycle():
    client = Controller()
    predicted = application(client, check_mode=True, max_queries_per_second=25)
    assert (predicted["changed"], client.executed_requests) == (True, [])
    application(client, max_queries_per_second=25)
    assert client.executed_requests == ["POST /applicationQuotas/dashboards?maxQueriesPerSecond=25"]
    assert application(client, max_queries_per_second="25.0")["changed"] is False
    changed = application(client, max_queries_per_second=2.5)
    assert (changed["before"]["maxQueriesPerSecond"], changed["after"]["maxQueriesPerSecond"]) == (25.0, 2.5)
    assert client.executed_requests[-1] == "POST /applicationQuotas/dashboards?maxQueriesPerSecond=2.5"
    removed = application(client, state="absent")
    assert removed["changed"] is True and client.executed_requests[-1] == "POST /applicationQuotas/dashboards"
    assert application(client, state="absent")["changed"] is False
    assert len(client.executed_requests) == 3


def test_an_application_quota_pinot_took_unchecked_is_replaced():
    """Pinot stores any double for an application (0, -5, NaN); the module puts the requested one in its place."""
    client = Controller(apps={"dashboards": "NaN", "old": "-5"})
    assert application(client, max_queries_per_second=1)["changed"] is True
    assert application(client, name="old", state="absent")["changed"] is True
    assert client.apps == {"dashboards": "1", "old": None}


@pytest.mark.parametrize(("params", "field"), [
    ({}, "max_queries_per_second"),
    ({"max_queries_per_second": "-1"}, "max_queries_per_second"),
    ({"max_queries_per_second": 1, "state": "absent"}, "max_queries_per_second"),
    ({"name": " padded"}, "name"),
])
def test_bad_application_input_names_the_field(params, field):
    client = Controller()
    with pytest.raises(SpecError) as refused:
        application(client, **params)
    assert refused.value.field == field
    assert client.executed_requests == []


def test_bulk_validates_every_definition_before_the_first_write():
    client = Controller()
    base = {"name": None, "max_queries_per_second": None, "state": "present"}
    definitions = [{"name": "a", "max_queries_per_second": 1}, {"name": "b", "max_queries_per_second": 2},
                   {"name": "a", "max_queries_per_second": 3}]
    plans = [Plan(*quota.build_application(client, per_object_options(base, item), False), "present")
             for item in definitions]
    with pytest.raises(SpecError, match="names a more than once"):
        reconcile_many(plans, check_mode=False)
    assert client.executed_requests == []
    plans = [Plan(*quota.build_application(client, per_object_options(base, item), False), "present")
             for item in definitions[:2]]
    assert [outcome["changed"] for outcome in reconcile_many(plans, check_mode=False)] == [True, True]
    assert client.apps == {"a": "1", "b": "2"}


@pytest.mark.parametrize("version", ["1.2.0", "0.12.1"])
def test_a_controller_older_than_1_3_is_refused_naming_its_version(version):
    client = Controller(version=version)
    for run in (lambda: database(client, max_queries_per_second=1),
                lambda: application(client, max_queries_per_second=1),
                lambda: quota.read_info(client, {})):
        with pytest.raises(SpecError, match=f"need Pinot 1.3 or later; this controller runs Pinot {version}"):
            run()
    assert client.executed_requests == []


def test_an_unknown_version_is_let_through():
    client = Controller(version=None)
    assert database(client, max_queries_per_second=1)["changed"] is True


def test_info_every_database_and_application_or_the_named_ones():
    client = Controller(records={"sales": {"maxQueriesPerSecond": "9.0"}, "empty": {"maxQueriesPerSecond": "1.0"}},
                        tables=["sales.orders", "events"], schemas=["sales.orders", "events"],
                        apps={"dashboards": "25", "gone": None}, configs={"applicationMaxQueriesPerSecond": "100"})
    everything = quota.read_info(client, {})
    assert everything == {
        "databases": [{"databaseName": "default", "maxQueriesPerSecond": None, "tables": ["events"],
                       "schemas": ["events"]},
                      {"databaseName": "sales", "maxQueriesPerSecond": 9.0, "tables": ["sales.orders"],
                       "schemas": ["sales.orders"]}],
        "applications": {"dashboards": 25.0},
        "defaults": {"databaseMaxQueriesPerSecond": None, "applicationMaxQueriesPerSecond": 100.0}}
    named = quota.read_info(client, {"database": "empty", "application": "nobody"})
    assert named["databases"] == [{"databaseName": "empty", "maxQueriesPerSecond": 1.0, "tables": [],
                                   "schemas": []}]
    assert named["applications"] == {"nobody": None}
    assert quota.read_info(client, {"application": "dashboards"})["databases"] == []
