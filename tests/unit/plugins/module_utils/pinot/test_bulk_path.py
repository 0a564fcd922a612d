"""The bulk path of pinot_table on a scripted client: one read per table, each shared tenant looked up once,
writes in order, nothing written on a no-op. (The same against real Pinot: tests/integration/test_bulk_path.py.)"""

from collections import Counter

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Plan, reconcile_many
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table import build
from tests.bench import estate


class FakeController(PinotClient):
    """PinotClient with `request` answered from a dict of stored tables (no network)."""

    def __init__(self, tables=None):
        super().__init__("http://pinot.invalid")
        self.tables = dict(tables or {})
        self.gets = Counter()

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "GET":
            self.read_count += 1
            self.gets[path] += 1
            if path.startswith("/tables/"):
                name = path.rsplit("/", 1)[1]
                return {"OFFLINE": self.tables[name]} if name in self.tables else {}
            return {"ServerInstances": ["Server_x"], "BrokerInstances": ["Broker_x"], "schemaName": "s"}
        if path == "/tables/validate":
            self.read_count += 1
            return {}
        self.executed_requests.append(f"{method} {path}")
        if method == "POST" and path == "/tables":
            self.tables[body["tableName"]] = body
        return {}


def _plans(client, names):
    plans = []
    for index, name in enumerate(names):
        params = {"table": estate.table(name, f"tenant{index % 2}"), "name": None, "table_type": None, "src": None,
                  "state": "present", "force": False, "rebalance": None, "delete_retention": None}
        handler, desired = build(client, params, False)
        plans.append(Plan(handler, desired, "present"))
    return plans


def test_first_apply_looks_each_tenant_up_once_and_writes_in_order():
    client = FakeController()
    names = [f"t{i}" for i in range(6)]
    results = reconcile_many(_plans(client, names), check_mode=False)
    assert [r["changed"] for r in results] == [True] * 6
    assert client.executed_requests == ["POST /tables"] * 6
    assert client.gets["/tenants/tenant0"] == 1
    assert client.gets["/tenants/tenant1"] == 1
    assert client.gets["/tenants/DefaultTenant"] == 1


def test_noop_is_one_read_per_table_and_no_write():
    tables = {f"t{i}": estate.table(f"t{i}", f"tenant{i % 2}") for i in range(6)}
    client = FakeController(tables)
    results = reconcile_many(_plans(client, list(tables)), check_mode=False)
    assert [r["changed"] for r in results] == [False] * 6
    assert client.executed_requests == []
    assert client.read_count == 6


def _build(client, config):
    params = {"table": config, "name": None, "table_type": None, "src": None, "state": "present", "force": False,
              "rebalance": None, "delete_retention": None}
    handler, desired = build(client, params, False)
    return Plan(handler, desired, "present")


def test_the_two_halves_of_a_hybrid_table_share_a_bulk_run():
    client = FakeController()
    stream = estate.stream("topic", "127.0.0.1:9092", "factory")
    plans = [_build(client, estate.table("h", "tenant0")),
             _build(client, estate.realtime_table("h", "tenant0", stream))]
    type(plans[0].handler).validate_together(plans)  # no error: one raw name, two types
    assert [plan.handler.identity for plan in plans] == [{"name": "h", "table_type": "OFFLINE"},
                                                         {"name": "h", "table_type": "REALTIME"}]


def test_a_name_and_type_given_twice_is_refused():
    client = FakeController()
    plans = [_build(client, estate.table("h", "tenant0")), _build(client, estate.table("h", "tenant1"))]
    with pytest.raises(SpecError, match="names h OFFLINE more than once"):
        reconcile_many(plans, check_mode=False)
    assert client.executed_requests == [] and client.read_count == 0
