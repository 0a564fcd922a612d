"""Every EXAMPLES task of the schema, table, tenant and user modules runs as written, in a playbook, against real Pinot.

Each example task is put verbatim into a one-task play and run with ansible-playbook (the `minimal` callback prints
the task's full result as JSON). The only edit is the controller URL: `http://localhost:9000` becomes the test
bed's. Files the examples name (`files/...`) are written from the inline examples' own content, in a working
directory the playbook runs from:

* `files/events-schema.json`: the schema of the first pinot_schema example ("Same schema from a file").
* `files/events-offline.json`: the table of the first pinot_table example with `segmentsConfig.replication: 2`,
  because that example is titled "Change replication and rebalance" (the test bed has two servers).

Order makes prerequisites exist: schema, then table, then the info modules, then the tenants; the REALTIME drop and
the schema removal come last. The schema removal first runs while the OFFLINE table still uses the schema and must
fail as its title says; after the test deletes the table, it runs again and succeeds.

Tenant examples name instances the test bed does not have (Server_pinot-server-hot-0_8098 ...; one broker, tagged
into DefaultTenant). My call: run them exactly as written and assert they fail with the module's own clear error
(failed, a message naming the problem, no traceback, no write sent). Separately, the named-instances example runs
once more with a documented mapping of its two instance names onto the test bed's two servers, to show the example
itself works; the servers' DefaultTenant tags are restored afterwards.

The examples of pinot_cluster, pinot_cluster_info and pinot_health run in test_cluster_examples.py, which also
checks that the two files together cover every module. The runner is tests/support/examples.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests

from tests.support.examples import COLLECTIONS, RESOURCE_MODULES, Runner, assert_clean_failure, assert_ok, examples
from tests.support.tables import realtime_table

pytestmark = pytest.mark.integration

DEFAULT_SERVER_TAGS = "DefaultTenant_OFFLINE,DefaultTenant_REALTIME"


def delete_events(url: str) -> None:
    """Leftovers from an earlier run on a reused test bed; the examples own these names."""
    for table_type in ("offline", "realtime"):
        requests.delete(f"{url}/tables/events", params={"type": table_type}, timeout=60)
    requests.delete(f"{url}/schemas/events", timeout=60)


def servers(url: str) -> list[str]:
    names = requests.get(f"{url}/instances", timeout=30).json()["instances"]
    return sorted(name for name in names if name.startswith("Server_"))


def untagged_live_brokers(url: str) -> int:
    response = requests.get(f"{url}/liveinstances", timeout=30)
    if response.status_code == 404:  # no such endpoint before Pinot 1.0: every test bed instance is live
        response = requests.get(f"{url}/instances", timeout=30)
    response.raise_for_status()
    brokers = [name for name in response.json()["instances"] if name.startswith("Broker_")]
    return sum("broker_untagged" in requests.get(f"{url}/instances/{name}", timeout=30).json().get("tags", [])
               for name in brokers)


@pytest.fixture
def runner(pinot, tmp_path: Path) -> Runner:
    assert (COLLECTIONS / "ansible_collections" / "pinotops" / "k8s").exists(), "run `make venv` first"
    schema = examples("pinot_schema", pinot.controller_url)["Schema for the events table"]["pinotops.k8s.pinot_schema"]
    table = copy.deepcopy(examples("pinot_table", pinot.controller_url)["OFFLINE events table"]
                          ["pinotops.k8s.pinot_table"]["table"])
    table["segmentsConfig"]["replication"] = 2
    files = tmp_path / "files"
    files.mkdir()
    (files / "events-schema.json").write_text(json.dumps(schema["schema"], indent=2))
    (files / "events-offline.json").write_text(json.dumps(table, indent=2))
    return Runner(tmp_path, pinot.controller_url)


def test_examples_run_as_written(pinot, runner: Runner):
    url = pinot.controller_url
    delete_events(url)
    try:
        # Schema: create, then the same schema from the file (nothing to change, so no reload either).
        assert_ok(runner.run("pinot_schema", "Schema for the events table"), changed=True)
        same = runner.run("pinot_schema", "Same schema from a file, reloading tables after an update")
        assert_ok(same, changed=False)
        assert same["executed_requests"] == [] and "reload" not in same
        one = runner.run("pinot_schema_info", "Read the events schema")
        assert_ok(one, changed=False)
        assert one["schema"]["schemaName"] == "events"
        every = runner.run("pinot_schema_info", "Read every schema")
        assert "events" in every["schemas"]

        # Table: create on DefaultTenant, then raise replication from the file and rebalance.
        created = runner.run("pinot_table", "OFFLINE events table")
        assert_ok(created, changed=True)
        assert created["executed_requests"] == ["POST /tables"]
        changed = runner.run("pinot_table", "Change replication and rebalance without downtime")
        assert_ok(changed, changed=True)
        assert "segmentsConfig.replication" in changed["changes"]
        assert changed["table"]["segmentsConfig"]["replication"] == "2"
        assert changed["rebalance"]["status"] in ("DONE", "NO_OP"), changed["rebalance"]
        tenant = runner.run("pinot_tenant_rebalance", "Spread the OFFLINE half of events over the servers of "
                                                      "DefaultTenant")
        assert_ok(tenant, changed=False)  # just rebalanced by pinot_table
        assert [(entry["table"], entry["status"]) for entry in tenant["rebalances"]] == [("events_OFFLINE", "NO_OP")]
        predicted = runner.run("pinot_tenant_rebalance", "What would rebalancing every table of the tenant but "
                                                         "events_REALTIME move? (writes nothing)")
        assert_ok(predicted)
        assert predicted["executed_requests"] == [] and "events_OFFLINE" in {
            entry["table"] for entry in predicted["rebalances"]}, predicted
        hybrid = runner.run("pinot_table_info", "Read both halves of the hybrid events table")
        assert_ok(hybrid, changed=False)
        assert hybrid["table"]["OFFLINE"]["tableName"] == "events_OFFLINE"
        assert_ok(runner.run("pinot_table_info", "Read every REALTIME table"), changed=False)

        # Rebalance: no segment yet, so nothing to move and nothing sent.
        spread = runner.run("pinot_table_rebalance", "Spread events over the servers of its tenant, two replicas "
                                                     "always serving")
        assert_ok(spread, changed=False)
        assert spread["executed_requests"] == [] and spread["rebalances"][0]["status"] == "NO_OP"

        # Reloads: the new table has no segment yet, so none needs one and nothing is sent.
        for title in ("Reload the events table where a schema change left segments behind",
                      "Does any segment of events need a reload? (reports, writes nothing)"):
            reload = runner.run("pinot_table_reload", title)
            assert_ok(reload, changed=False)
            assert reload["executed_requests"] == []
            assert [entry["status"] for entry in reload["reloads"]] == ["not needed"]

        # Tenants, as written: the named servers do not exist here, and there is no untagged broker.
        named = runner.run("pinot_tenant", 'Server tenant "hot" on two named servers')
        assert_clean_failure(named, "no instance named 'Server_pinot-server-hot-0_8098'")
        assert named["field"] == "instances[0]"
        by_count = runner.run("pinot_tenant", "Broker tenant of two untagged brokers")
        free = untagged_live_brokers(url)
        if free >= 2:  # a test bed with spare brokers: the example simply works
            assert_ok(by_count, changed=True)
        else:
            assert_clean_failure(by_count, "needs 2 more untagged live broker instance(s)",
                                 f"but {free} are available")
            assert by_count["field"] == "instance_count"
        # The bulk example stops at its first definition's unknown server, before any write.
        bulk = runner.run("pinot_tenant", "Every tenant of the cluster in one task (read and validated before the "
                                          "first write)")
        assert_clean_failure(bulk, "no instance named 'Server_pinot-server-hot-0_8098'")
        assert bulk["field"] == "definitions[0].instances[0]"
        assert_ok(runner.run("pinot_tenant", "Remove the tenant (refused while tables use it)"), changed=free >= 2)
        hot = runner.run("pinot_tenant_info", 'Instances of the server tenant "hot"')
        assert_ok(hot, changed=False)
        assert hot["tenant"] is None
        tenants = runner.run("pinot_tenant_info", "Every tenant")
        assert "DefaultTenant" in tenants["tenants"]["SERVER"]

        # There is no REALTIME half to drop: nothing to do.
        dropped = runner.run("pinot_table", "Drop the REALTIME half of a hybrid table, deleting its segments now")
        assert_ok(dropped, changed=False)
        assert dropped["executed_requests"] == []

        # The schema removal is refused while the OFFLINE table uses the schema, as its title says ...
        refused = runner.run("pinot_schema", "Remove the schema (fails while a table still uses it)")
        assert_clean_failure(refused, "schema 'events' is still used by table(s)", "delete them first")
        # ... and succeeds once the table is gone.
        requests.delete(f"{url}/tables/events", params={"type": "offline"}, timeout=60).raise_for_status()
        removed = runner.run("pinot_schema", "Remove the schema (fails while a table still uses it)")
        assert_ok(removed, changed=True)
        assert removed["executed_requests"] == ["DELETE /schemas/events"]
    finally:
        delete_events(url)

    # Users: the password variables are the play's, as from a vault.
    passwords = {"analyst_password": "analyst-example", "initial_ops_password": "ops-example"}
    try:
        query_user = runner.run("pinot_user", "A read-only query user for two tables", play_vars=passwords)
        assert_ok(query_user, changed=True)
        assert query_user["executed_requests"] == ["POST /users"]
        again = runner.run("pinot_user", "A read-only query user for two tables", play_vars=passwords)
        assert_ok(again, changed=False)
        admin = "An admin of the controller whose password is set once and then left alone"
        assert_ok(runner.run("pinot_user", admin, play_vars=passwords), changed=True)
        kept = runner.run("pinot_user", admin, play_vars={**passwords, "initial_ops_password": "changed-later"})
        assert_ok(kept, changed=False)
        analyst = runner.run("pinot_user_info", "The broker user analyst")
        assert analyst["user"].items() >= {"username": "analyst", "component": "BROKER", "role": "USER",
                                           "tables": ["events", "sessions"], "permissions": ["READ"]}.items()
        assert "password" not in analyst["user"]
        every_user = runner.run("pinot_user_info", "Every user")
        listed = {(item["username"], item["component"]) for item in every_user["users"]}
        assert listed >= {("analyst", "BROKER"), ("ops", "CONTROLLER")}
        removed_user = runner.run("pinot_user", "Remove the user")
        assert_ok(removed_user, changed=True)
        assert removed_user["executed_requests"] == ["DELETE /users/analyst?component=BROKER"]
    finally:
        for name, component in (("analyst", "BROKER"), ("ops", "CONTROLLER")):
            requests.delete(f"{url}/users/{name}", params={"component": component}, timeout=30)

    # Consumption of a REALTIME events table fed from Kafka: pause, resume, then a force commit of what consumes.
    delete_events(url)
    with realtime_table(pinot, name="events"):
        paused = runner.run("pinot_table_consumption", "Stop ingesting into events, with every row read so far "
                                                       "committed")
        assert_ok(paused, changed=True)
        assert paused["consumption"]["paused"] is True and paused["consumption"]["consuming_segments"] == []
        resumed = runner.run("pinot_table_consumption", "Go on from where the committed segments end")
        assert_ok(resumed, changed=True)
        assert resumed["consumption"]["consuming_segments"]
        committed = runner.run("pinot_table_consumption", "Commit the consuming segments after a schema change")
        assert_ok(committed, changed=True)
        assert committed["committed_segments"] == resumed["consumption"]["consuming_segments"]
        balanced = runner.run("pinot_table_rebalance", "What would a rebalance of the REALTIME half move? (dry run "
                                                       "and pre-checks, writes nothing)")
        assert_ok(balanced, changed=False)
        assert balanced["rebalances"][0]["table_type"] == "REALTIME"

    expected = {(module, name) for module in RESOURCE_MODULES for name in examples(module, url)}
    assert runner.ran == expected, f"examples not exercised: {sorted(expected - runner.ran)}"


def test_named_tenant_example_with_test_bed_servers(pinot, runner: Runner):
    """The mapping: the example's two instance names stand for the test bed's two servers; nothing else changes."""
    url = pinot.controller_url
    real = servers(url)
    assert len(real) == 2, real
    task = examples("pinot_tenant", url)['Server tenant "hot" on two named servers']
    args = task["pinotops.k8s.pinot_tenant"]
    assert args["instances"] == ["Server_pinot-server-hot-0_8098", "Server_pinot-server-hot-1_8098"]
    args["instances"] = real
    try:
        placed = runner.run("pinot_tenant", task["name"], task)
        assert_ok(placed, changed=True)
        assert sorted(placed["executed_requests"]) == sorted(
            f"PUT /instances/{name}/updateTags?tags=hot_OFFLINE,hot_REALTIME" for name in real)
        assert placed["tenant"]["instances"] == real
        again = runner.run("pinot_tenant", task["name"], task)
        assert_ok(again, changed=False)
        assert again["executed_requests"] == []
        info = runner.run("pinot_tenant_info", 'Instances of the server tenant "hot"')
        assert info["tenant"]["instances"] == real
    finally:
        for name in real:
            requests.put(f"{url}/instances/{name}/updateTags", params={"tags": DEFAULT_SERVER_TAGS},
                         timeout=30).raise_for_status()
