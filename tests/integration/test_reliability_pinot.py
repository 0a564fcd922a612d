"""Reliability and security of the Pinot modules against a REAL Pinot controller (issue 7).

One auth-enabled Pinot (1 server, no minion, no Kafka: CPU is scarce; tests/support/reliability.py) is shared
with test_secrets.py, so every call also proves basic auth end to end. Faults are real (the controller JVM is
SIGKILLed and restarted) or injected by tests/support/fault_proxy.py, a loopback proxy in front of the real
controller: the backend that acts on the requests is always the real Pinot.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid

import pytest
import requests

from tests.support.fault_proxy import FaultProxy, Rule
from tests.support.modules import run_module
from tests.support.reliability import AUTH, PASSWORD, USER, reliability_fixture
from tests.testbed.ports import free_port

pytestmark = pytest.mark.integration
pinot_auth = reliability_fixture()


def schema(name):
    return {"schemaName": name,
            "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"}],
            "metricFieldSpecs": [{"name": "clicks", "dataType": "LONG"}],
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                                    "granularity": "1:MILLISECONDS"}]}


def offline_table(name):
    return {"tableName": name, "tableType": "OFFLINE",
            "segmentsConfig": {"timeColumnName": "ts", "replication": 1}, "tenants": {},
            "tableIndexConfig": {"loadMode": "MMAP"}, "metadata": {}}


def module(module_name, url, /, check=False, **args):
    return run_module(module_name, dict(dict(controller_url=url, **AUTH), **args), check=check, diff=True)


def live_schemas(cluster, prefix):
    response = requests.get(cluster.controller_url + "/schemas", auth=(USER, PASSWORD), timeout=10)
    response.raise_for_status()
    return sorted(name for name in response.json() if name.startswith(prefix))


class Attempts:
    """Counts the HTTP attempts the Pinot client really makes (wraps requests.Session.request)."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = requests.Session.request

        def counting(session, method, url, *args, **kwargs):
            self.calls.append((method, url, time.monotonic()))
            return original(session, method, url, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", counting)


# -- faults ---------------------------------------------------------------------------------------------------

def test_unreachable_controller_bounded_retries_clear_error_nothing_written(pinot_auth, monkeypatch):
    name = "unreach_" + uuid.uuid4().hex[:6]
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    attempts = Attempts(monkeypatch)
    started = time.monotonic()
    result = module("pinot_schema", dead, schema=schema(name))
    elapsed = time.monotonic() - started
    assert result["failed"]
    assert result["msg"] == f"GET /schemas/{name} failed: cannot reach the controller at {dead}: ConnectionError"
    assert result["executed_requests"] == []
    # default retries=4: 5 attempts, backoff 0.5+1+2+4 s
    assert len(attempts.calls) == 5
    assert elapsed >= 7.0, elapsed  # the backoff was applied (how fast is the bench's business)
    assert PASSWORD not in json.dumps(result)

    # The real controller, stopped: same bounded failure; nothing written once it is back.
    pinot_auth.stop_component("controller")
    try:
        result = module("pinot_schema", pinot_auth.controller_url, schema=schema(name), retries=2)
        assert result["failed"] and "cannot reach the controller" in result["msg"]
        assert result["executed_requests"] == []
    finally:
        pinot_auth.start_component("controller")
    assert live_schemas(pinot_auth, name) == []


def test_controller_killed_mid_bulk_run_fails_cleanly_and_rerun_converges(pinot_auth):
    prefix = "bulk_" + uuid.uuid4().hex[:6] + "_"
    names = [f"{prefix}{i:02d}" for i in range(12)]
    definitions = [schema(n) for n in names]
    killed = {}

    def kill_controller():
        killed["at"] = time.monotonic()
        pinot_auth.stop_component("controller", kill=True)  # SIGKILL: a crash, not a shutdown

    with FaultProxy(pinot_auth.controller_url) as proxy:
        # The 6th create reaches a controller that was just SIGKILLed.
        proxy.rules.append(Rule("POST", r"^/schemas\?override=false", "hook", hook=kill_controller, after=5))
        try:
            result = module("pinot_schema", proxy.url, definitions=definitions)
        finally:
            if not pinot_auth.is_running("controller"):
                pinot_auth.start_component("controller")
        assert killed, "the controller was never killed: the bulk run did not reach its 6th write"
        assert result["failed"]
        assert result["msg"].startswith("POST /schemas?override=false failed: cannot reach the controller")
        # What was written before the crash is listed; the failed write is the last entry, nothing after it.
        assert result["executed_requests"] == ["POST /schemas?override=false"] * 6
        assert len(proxy.requests("POST", r"^/schemas\?override")) == 6  # the POST was not retried
        assert live_schemas(pinot_auth, prefix) == names[:5]

        rerun = module("pinot_schema", proxy.url, definitions=definitions)
        assert not rerun.get("failed"), rerun
        assert [r["name"] for r in rerun["results"] if r["changed"]] == names[5:]
        assert live_schemas(pinot_auth, prefix) == names  # nothing lost, nothing twice
        again = module("pinot_schema", proxy.url, definitions=definitions)
        assert again["changed"] is False and again["executed_requests"] == []
    module("pinot_schema", pinot_auth.controller_url, definitions=definitions, state="absent")


def test_transient_5xx_retried_only_for_idempotent_requests(pinot_auth):
    name = "flaky_" + uuid.uuid4().hex[:6]
    with FaultProxy(pinot_auth.controller_url) as proxy:
        # GET answered 503 twice, then the real answer: retried, succeeds.
        proxy.rules.append(Rule("GET", rf"^/schemas/{name}$", "respond", status=503, times=2,
                                body='{"code":503,"error":"controller busy"}'))
        # The create reaches the real controller, which acts, but the client sees 502 (a gateway timing out).
        proxy.rules.append(Rule("POST", r"^/schemas\?override=false", "forward_then_respond", status=502,
                                body='{"code":502,"error":"bad gateway"}'))
        result = module("pinot_schema", proxy.url, schema=schema(name))
        statuses = [e[2] for e in proxy.requests("GET", rf"^/schemas/{name}$")][:3]
        assert statuses == ["injected 503", "injected 503", 404]
        assert result["failed"]
        assert result["msg"] == "POST /schemas?override=false failed: HTTP 502: bad gateway"
        assert result["status"] == 502
        # Never retried: a second POST would have created the schema twice or hit "already exists".
        assert len(proxy.requests("POST", r"^/schemas\?override")) == 1
        # The server did act; the rerun sees it and has nothing to do.
        rerun = module("pinot_schema", proxy.url, schema=schema(name))
        assert rerun["changed"] is False and rerun["executed_requests"] == []

        # PUT (idempotent) answered 503 once: retried and succeeds.
        grown = schema(name)
        grown["dimensionFieldSpecs"].append({"name": "city", "dataType": "STRING"})
        proxy.rules.append(Rule("PUT", rf"^/schemas/{name}", "respond", status=503, times=1))
        updated = module("pinot_schema", proxy.url, schema=grown)
        assert not updated.get("failed"), updated
        assert [e[2] for e in proxy.requests("PUT", rf"^/schemas/{name}")] == ["injected 503", 200]
    module("pinot_schema", pinot_auth.controller_url, name=name, state="absent")


def test_409_external_view_still_exists_retried_other_409_not(pinot_auth):
    name = "ev_" + uuid.uuid4().hex[:6]
    assert not module("pinot_schema", pinot_auth.controller_url, schema=schema(name)).get("failed")
    try:
        with FaultProxy(pinot_auth.controller_url) as proxy:
            # Pinot refuses a re-create while the deleted table's external view drains: refused without acting.
            proxy.rules.append(Rule("POST", r"^/tables(\?|$)", "respond", status=409, times=2, body=json.dumps(
                {"code": 409, "error": f"Table config for {name}_OFFLINE external view still exists"})))
            created = module("pinot_table", proxy.url, table=offline_table(name))
            assert not created.get("failed"), created
            assert [e[2] for e in proxy.requests("POST", r"^/tables(\?|$)")] == ["injected 409", "injected 409", 200]

            module("pinot_table", pinot_auth.controller_url, name=name, table_type="OFFLINE", state="absent")
            proxy.rules.append(Rule("POST", r"^/tables(\?|$)", "respond", status=409, times=1, body=json.dumps(
                {"code": 409, "error": f"Table {name}_OFFLINE already exists"})))
            refused = module("pinot_table", proxy.url, table=offline_table(name))
            assert refused["failed"] and refused["status"] == 409
            assert "already exists" in refused["msg"]
            assert [e[2] for e in proxy.requests("POST", r"^/tables(\?|$)")][3:] == ["injected 409"]
    finally:
        module("pinot_table", pinot_auth.controller_url, name=name, table_type="OFFLINE", state="absent")
        module("pinot_schema", pinot_auth.controller_url, name=name, state="absent")


# -- security -------------------------------------------------------------------------------------------------

def test_basic_auth_right_credentials_work_wrong_ones_fail_clearly(pinot_auth):
    name = "auth_" + uuid.uuid4().hex[:6]
    url = pinot_auth.controller_url
    ok = module("pinot_schema", url, schema=schema(name))
    assert ok["changed"] is True
    wrong = "wrong-" + secrets.token_hex(6)
    result = run_module("pinot_schema", dict(controller_url=url, username=USER, password=wrong,
                                             schema=schema(name + "x")))
    assert result["failed"]
    assert result["status"] in (401, 403)
    assert f"HTTP {result['status']}" in result["msg"] and f"/schemas/{name}x" in result["msg"]
    assert wrong not in json.dumps(result) and PASSWORD not in json.dumps(result)
    none = run_module("pinot_schema_info", dict(controller_url=url, name=name))
    assert none["failed"] and none["status"] in (401, 403)
    info = run_module("pinot_schema_info", dict(controller_url=url, name=name, **AUTH))
    assert info["schema"]["schemaName"] == name
    assert live_schemas(pinot_auth, name + "x") == []
    module("pinot_schema", url, name=name, state="absent")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    pki = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=pki, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=pinotops test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return pki


def test_tls_untrusted_certificate_fails_clearly_and_ca_cert_works(pinot_auth, tls_files, monkeypatch):
    name = "tls_" + uuid.uuid4().hex[:6]
    with FaultProxy(pinot_auth.controller_url, certfile=str(tls_files / "server.crt"),
                    keyfile=str(tls_files / "server.key")) as proxy:
        assert proxy.url.startswith("https://")
        attempts = Attempts(monkeypatch)
        untrusted = module("pinot_schema", proxy.url, schema=schema(name))
        assert untrusted["failed"]
        assert "certificate verify failed" in untrusted["msg"] and "ca_cert" in untrusted["msg"]
        assert untrusted["executed_requests"] == []
        assert len(attempts.calls) == 1  # a certificate error is not transient: no retries
        assert proxy.requests() == []  # the handshake failed: no request was ever sent
        assert PASSWORD not in json.dumps(untrusted)

        trusted = module("pinot_schema", proxy.url, schema=schema(name), ca_cert=str(tls_files / "ca.crt"))
        assert trusted["changed"] is True, trusted["msg"]
        assert live_schemas(pinot_auth, name) == [name]
        module("pinot_schema", proxy.url, name=name, state="absent", ca_cert=str(tls_files / "ca.crt"))
