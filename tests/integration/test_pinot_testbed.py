"""The Pinot test bed itself: real JVMs answer as the collection's client expects, and leave nothing behind."""

import time

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from tests.support.tables import realtime_table
from tests.testbed.pinot import http_get, port_open, running_pids, stop_from_state

pytestmark = pytest.mark.integration

AUTH = {"username": "admin", "password": "t3stbed-secret"}


def client(cluster, **auth):
    auth = auth or cluster.auth or {}
    return PinotClient(controller_url=cluster.controller_url, username=auth.get("username"),
                       password=auth.get("password"), timeout=10, retries=0)


def wait_for(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.every_version
def test_controller_lists_every_instance(pinot):
    listed = client(pinot).get("/instances")["instances"]
    assert set(pinot.instances) <= set(listed)
    assert sum(name.startswith("Controller_") for name in listed) == 1
    assert sum(name.startswith("Broker_") for name in listed) == 1
    assert sum(name.startswith("Server_") for name in listed) == 2
    assert sum(name.startswith("Minion_") for name in listed) == 1


@pytest.mark.every_version
def test_version_is_the_requested_one(pinot, pinot_version):
    versions = client(pinot).get("/version")
    assert versions.get("pinot-controller"), versions
    # Release jars report "<version>-<git sha>" (0.11.0) or the bare version.
    assert {v.split("-")[0] for k, v in versions.items() if k.startswith("pinot-")} == {pinot_version}


@pytest.mark.every_version
def test_health_endpoints(pinot):
    assert http_get(pinot.controller_url + "/health") == (200, "OK")
    assert http_get(pinot.broker_url + "/health") == (200, "OK")
    for url in pinot.server_admin_urls:
        assert http_get(url + "/health/liveness")[0] == 200
        assert http_get(url + "/health/readiness")[0] == 200
    assert http_get(pinot.minion_url + "/health")[0] == 200


@pytest.mark.every_version
def test_kafka_broker_feeds_a_realtime_table(pinot_kafka):
    api = client(pinot_kafka)
    with realtime_table(pinot_kafka, "kt_") as name:
        # A CONSUMING segment on a server means the server reached the Kafka broker.
        def consuming():
            # 404 until the first segment has a state.
            view = (api.get(f"/tables/{name}/externalview", missing_ok=True) or {}).get("REALTIME") or {}
            return any("CONSUMING" in states.values() for states in view.values())

        wait_for("a CONSUMING segment", consuming)


# Primary version only: no test of another version runs with auth, and the test bed's auth code is the same.
def test_basic_auth_restart_and_clean_stop(fresh_pinot):
    cluster = fresh_pinot(servers=1, minion=True, auth=AUTH)
    # Unauthenticated health, authenticated API.
    assert http_get(cluster.controller_url + "/health")[0] == 200
    status, _body = http_get(cluster.controller_url + "/instances")
    assert status in (401, 403)
    assert http_get(cluster.controller_url + "/instances", {"username": "admin", "password": "wrong"})[0] in (401, 403)
    with pytest.raises(PinotError) as denied:
        client(cluster, username="nobody", password="x").get("/instances")
    assert denied.value.status in (401, 403)
    assert set(cluster.instances) <= set(client(cluster).get("/instances")["instances"])

    # A restarted server comes back as itself (same ports, data dir) and re-registers through auth.
    readiness = cluster.server_admin_urls[0] + "/health/readiness"
    cluster.stop_component("server-0")
    assert not cluster.is_running("server-0")
    assert http_get(readiness)[0] == 0
    cluster.start_component("server-0")
    assert http_get(readiness)[0] == 200
    listed = client(cluster).get("/instances")["instances"]
    assert [n for n in listed if n.startswith("Server_")] == [n for n in cluster.instances if n.startswith("Server_")]

    # Stopping from state.json (as `make testbed-down` does) leaves no JVM and no port.
    pids = cluster.pids()
    assert len(pids) == len(cluster.components)
    stop_from_state(cluster.workdir)
    assert running_pids(cluster.workdir) == []
    assert not any(port_open(p) for c in cluster.components.values() for p in c["ports"].values())
