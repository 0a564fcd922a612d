"""pinot_table_reload's engine and pinot_schema's reload on a scripted controller (no network)."""

import json

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import client as pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import reload as reload_utils
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import schema as schema_utils
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import reconcile


class ReloadingController(PinotClient):
    """Table `events` of the given types with `segments` segments each; a reload takes `lag` status reads."""

    def __init__(self, types=("OFFLINE",), need=("OFFLINE",), segments=2, lag=1):
        super().__init__("http://pinot.invalid")
        self.types, self.need, self.segments, self.lag = types, set(need), segments, lag
        self.jobs = {}

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "GET" and path == "/tables/events":
            return {kind: {"tableName": f"events_{kind}"} for kind in self.types}
        if method == "GET" and path.startswith("/tables/"):
            return None
        if method == "GET" and path.endswith("/needReload"):
            return {"needReload": path.split("/")[2].rsplit("_", 1)[1] in self.need}
        if method == "GET" and path.startswith("/segments/segmentReloadStatus/"):
            job = self.jobs[path.rsplit("/", 1)[1]]
            job["reads"] += 1
            done = self.segments if job["reads"] > self.lag else 0
            if done:
                self.need.discard(job["type"])
            return {"successCount": done, "totalSegmentCount": self.segments, "totalServerCallsFailed": 0}
        self.executed_requests.append(f"{method} {path}" + "".join(f" {k}={v}" for k, v in (params or {}).items()))
        if method == "POST" and path == "/segments/events/reload":
            if not self.segments:
                raise PinotError(method, path, 404, "Failed to find any segments in table: events on every instance")
            job_id = f"job-{len(self.jobs)}"
            self.jobs[job_id] = {"type": params["type"], "reads": 0}
            status = {f"events_{params['type']}": {"numMessagesSent": "1", "reloadJobId": job_id}}
            return {"status": json.dumps(status)}
        return {"status": "events successfully added"}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(pinot_client.time, "sleep", lambda seconds: None)


def run(client, check_mode=False, **params):
    return reload_utils.apply(client, dict({"name": "events", "wait": True, "wait_timeout": 30}, **params), check_mode)


def test_only_the_type_that_needs_it_is_reloaded_and_a_rerun_writes_nothing():
    client = ReloadingController(types=("OFFLINE", "REALTIME"), need=("OFFLINE",))
    predicted = run(client, check_mode=True)
    assert (predicted["changed"], predicted["changes"], client.executed_requests) == (True, ["reload OFFLINE"], [])
    assert [entry["status"] for entry in predicted["reloads"]] == ["would reload", "not needed"]
    assert predicted["diff"] == {"before": {"OFFLINE": {"need_reload": True}, "REALTIME": {"need_reload": False}},
                                 "after": {"OFFLINE": {"need_reload": False}, "REALTIME": {"need_reload": False}}}

    done = run(client)
    assert client.executed_requests == ["POST /segments/events/reload type=OFFLINE"]
    assert done["reloads"][0] == {"table_type": "OFFLINE", "need_reload": True, "job_id": "job-0", "status": "done",
                                  "reloaded_segments": 2, "segments": 2, "need_reload_after": False}
    again = run(client)
    assert (again["changed"], len(client.executed_requests)) == (False, 1)


def test_always_reloads_and_a_table_without_segments_is_not_a_change():
    client = ReloadingController(need=(), segments=0)
    result = run(client, only_if_needed=False, force_download=True)
    assert client.executed_requests == ["POST /segments/events/reload type=OFFLINE forceDownload=true"]
    assert (result["changed"], result["reloads"][0]["status"]) == (False, "no segments")


def test_a_reload_that_does_not_finish_fails_after_the_timeout(monkeypatch):
    client = ReloadingController(lag=10 ** 6)
    clock = iter(range(0, 10 ** 6, 20))
    monkeypatch.setattr(pinot_client.time, "monotonic", lambda: next(clock))
    with pytest.raises(PinotError, match=r"reload of events_OFFLINE not finished after 30s: 0 of 2 segments"):
        run(client)


def test_a_missing_table_or_type_names_the_field():
    with pytest.raises(SpecError, match="no REALTIME table named 'events'") as refused:
        run(ReloadingController(), table_type="REALTIME")
    assert refused.value.field == "name"
    with pytest.raises(SpecError, match="no table named 'other'"):
        run(ReloadingController(), name="other")


def test_a_schema_update_with_reload_follows_each_job_to_its_end():
    client = ReloadingController(types=("OFFLINE", "REALTIME"), need=())
    live = {"schemaName": "events", "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"}]}
    desired = {"schemaName": "events", "dimensionFieldSpecs": [{"name": "id", "dataType": "STRING"},
                                                               {"name": "country", "dataType": "STRING"}]}
    handler = schema_utils.SchemaHandler(client, "events", reload=True)
    handler.update(desired, live)
    assert client.executed_requests == ["PUT /schemas/events reload=false", "POST /segments/events/reload type=OFFLINE",
                                        "POST /segments/events/reload type=REALTIME"]
    reload = handler.extra_result["reload"]
    assert reload["status"] == "done"
    assert [(entry["table_type"], entry["status"], entry["reloaded_segments"]) for entry in reload["reloads"]] == [
        ("OFFLINE", "done", 2), ("REALTIME", "done", 2)]


def test_a_schema_no_table_uses_skips_the_reload():
    client = ReloadingController()
    handler = schema_utils.SchemaHandler(client, "lonely", reload=True)
    handler.update({"schemaName": "lonely"}, {"schemaName": "lonely"})
    assert client.executed_requests == ["PUT /schemas/lonely reload=false"]
    assert handler.extra_result["reload"] == {"status": "skipped", "reason": "no table is named 'lonely'"}


def test_reconcile_reports_the_reload_only_when_the_schema_changed():
    client = ReloadingController()
    handler = schema_utils.SchemaHandler(client, "events", reload=True)
    handler.read = lambda: {"schemaName": "events"}
    outcome = reconcile(handler, {"schemaName": "events"}, "present", check_mode=False)
    assert (outcome["changed"], client.executed_requests, handler.extra_result) == (False, [], {})
