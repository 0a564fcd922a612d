"""pinot_health's check before a restart against the real controller: what the rolling upgrade asks before each
step. The shared test bed has one broker: taking it down leaves its tables with no broker, and Pinot's broker
resource (not a fake's shape of it) is what says so."""

from __future__ import annotations

import pytest
import requests

from tests.support.modules import run_module
from tests.support.polling import wait_until
from tests.support.tables import offline_table

pytestmark = pytest.mark.integration


@pytest.mark.every_version
def test_the_only_live_broker_is_unsafe_to_restart_and_one_server_of_a_replicated_table_is_safe(pinot):
    broker = next(name for name in pinot.instances if name.startswith("Broker_"))
    servers = sorted(name for name in pinot.instances if name.startswith("Server_"))
    with offline_table(pinot, segments=2, replication=2) as table:
        def both_replicas_online():
            view = requests.get(f"{pinot.controller_url}/tables/{table}/externalview", timeout=30).json()
            segments = view.get("OFFLINE") or {}
            return len(segments) == 2 and all(sorted(s.values()) == ["ONLINE", "ONLINE"] for s in segments.values())

        wait_until("both replicas of both segments ONLINE", both_replicas_online, timeout=60)
        refused = run_module("pinot_health", dict(controller_url=pinot.controller_url, component="broker",
                                                  instances=[broker], before_restart=True, wait_timeout=0))
        assert refused["failed"], refused
        assert "would have no live broker" in refused["msg"] and f"{table}_OFFLINE" in refused["msg"], refused["msg"]

        safe = run_module("pinot_health", dict(controller_url=pinot.controller_url, component="server",
                                               instances=servers[:1], before_restart=True, wait_timeout=0))
        assert not safe.get("failed"), safe.get("msg")
        both = run_module("pinot_health", dict(controller_url=pinot.controller_url, component="server",
                                               instances=servers, before_restart=True, wait_timeout=0))
        assert both.get("failed") and "would have no serving replica" in both["msg"], both
