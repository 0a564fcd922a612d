"""pinot_table_consumption's engine on a scripted controller with Pinot's pause semantics (no network)."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import client as pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import consumption
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError


class RealtimeTable(PinotClient):
    """One REALTIME table `events`: a pause commits the consuming segments, a resume creates the next ones, each
    after `lag` further reads of the pause status (as the servers take a moment); the servers show a new consuming
    segment in the external view after `uptake` reads of it, and as Pinot refuse a commit before."""

    def __init__(self, paused=False, reason="ADMINISTRATIVE", lag=0, uptake=0):
        super().__init__("http://pinot.invalid")
        self.paused, self.reason, self.lag, self.uptake = paused, reason, lag, uptake
        self.sequence = 0
        self.consuming = [] if paused else ["events__0__0__x"]
        self.pending = None  # (reads left, consuming segments then)
        self.jobs = {}

    def _settle(self, segments):
        self.pending = (self.lag, segments)
        self._tick()

    def _tick(self):
        if self.pending is not None:
            left, segments = self.pending
            if left <= 0:
                self.consuming, self.pending = segments, None
            else:
                self.pending = (left - 1, segments)

    def _next(self):
        self.sequence += 1
        return [f"events__0__{self.sequence}__x"]

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if not path.startswith(("/tables/events/", "/tables/forceCommitStatus/")):
            raise PinotError(method, path, 404, "Table not found")
        if method == "GET" and path.endswith("/pauseStatus"):
            self._tick()
            return {"pauseFlag": self.paused, "consumingSegments": list(self.consuming), "reasonCode": self.reason,
                    "comment": None, "timestamp": "t"}
        if method == "GET" and path.endswith("/externalview"):
            self.uptake -= 1
            if self.uptake >= 0:  # no server has reported: Pinot has no external view yet
                if missing_ok:
                    return None
                raise PinotError(method, path, 404, "Table not found")
            return {"OFFLINE": None, "REALTIME": {segment: {"Server_1": "CONSUMING"} for segment in self.consuming}}
        if method == "GET":
            self._tick()
            return {"segmentsYetToBeCommitted": list(self.consuming) if self.pending else []}
        action = path.rsplit("/", 1)[1]
        if action in ("pauseConsumption", "forceCommit") and self.consuming and self.uptake >= 0:
            raise PinotError(method, path, 500, "No force commit message sent for table: events_REALTIME")
        self.executed_requests.append(f"{method} {path}")
        if action == "pauseConsumption":
            self.paused, self.reason = True, "ADMINISTRATIVE"
            self._settle([])
        elif action == "resumeConsumption":
            self.paused = False
            self.params = params
            self._settle(self._next())
        elif action == "forceCommit":
            self._settle(self._next())
            return {"forceCommitStatus": "SUCCESS", "forceCommitJobId": "job-1"}
        return {}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(pinot_client.time, "sleep", lambda seconds: None)


def run(client, check_mode=False, **params):
    return consumption.apply(client, dict({"name": "events", "wait": True, "wait_timeout": 30}, **params),
                             check_mode)


def test_pause_waits_for_the_commit_and_a_second_pause_writes_nothing():
    table = RealtimeTable(lag=2)
    predicted = run(table, check_mode=True, state="paused")
    assert (predicted["changed"], predicted["changes"], table.executed_requests) == (True, ["pause"], [])
    assert predicted["committed_segments"] == ["events__0__0__x"]
    assert predicted["consumption"]["paused"] is True and predicted["consumption"]["consuming_segments"] == []

    paused = run(table, state="paused", comment="migration")
    assert table.executed_requests == ["POST /tables/events/pauseConsumption"]
    assert paused["consumption"] == {"table": "events", "paused": True, "consuming_segments": [],
                                     "reason_code": "ADMINISTRATIVE", "comment": None, "timestamp": "t"}
    assert paused["diff"] == {"before": {"paused": False},
                              "after": {"paused": True, "committed_segments": ["events__0__0__x"]}}
    again = run(table, state="paused")
    assert (again["changed"], again["changes"], len(table.executed_requests)) == (False, [], 1)
    assert again["diff"]["before"] == again["diff"]["after"]


def test_resume_sends_consume_from_and_waits_for_a_consuming_segment():
    table = RealtimeTable(paused=True, lag=3)
    resumed = run(table, state="consuming", consume_from="smallest")
    assert (resumed["changes"], table.executed_requests) == (["resume"], ["POST /tables/events/resumeConsumption"])
    assert table.params == {"consumeFrom": "smallest", "comment": None}
    assert resumed["consumption"]["consuming_segments"] == ["events__0__1__x"]
    assert resumed["committed_segments"] == []
    assert run(table, state="consuming")["changed"] is False


def test_a_pause_that_does_not_complete_fails_after_the_timeout_naming_the_segments(monkeypatch):
    table = RealtimeTable(lag=10 ** 6)
    clock = iter(range(0, 10 ** 6, 50))
    monkeypatch.setattr(pinot_client.time, "monotonic", lambda: next(clock))
    with pytest.raises(PinotError, match=r"no consuming segment left not reached after 30s; consuming "
                                         r"segments: events__0__0__x"):
        run(table, state="paused")
    assert table.executed_requests == ["POST /tables/events/pauseConsumption"]


def test_a_pause_waits_until_a_server_consumes_the_segments_it_commits():
    table = RealtimeTable(uptake=2)
    run(table, state="paused")
    assert (table.uptake, table.executed_requests) == (-1, ["POST /tables/events/pauseConsumption"])

    nothing_consumes = RealtimeTable(uptake=10 ** 6)
    clock = iter(range(0, 10 ** 6, 50))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pinot_client.time, "monotonic", lambda: next(clock))
        with pytest.raises(PinotError, match=r"no server consumes events__0__0__x after 30s, so none can commit it"):
            run(nothing_consumes, force_commit=True)
    assert nothing_consumes.executed_requests == []


def test_force_commit_commits_what_consumes_and_nothing_on_a_paused_table():
    table = RealtimeTable(lag=1)
    committed = run(table, force_commit=True)
    assert (committed["changes"], committed["committed_segments"]) == (["force commit"], ["events__0__0__x"])
    assert table.executed_requests == ["POST /tables/events/forceCommit"]
    assert table.consuming == ["events__0__1__x"]

    paused = RealtimeTable(paused=True)
    nothing = run(paused, force_commit=True)
    assert (nothing["changed"], paused.executed_requests) == (False, [])


def test_resume_of_a_paused_table_skips_the_force_commit():
    table = RealtimeTable(paused=True)
    result = run(table, state="consuming", force_commit=True)
    assert result["changes"] == ["resume"]
    assert table.executed_requests == ["POST /tables/events/resumeConsumption"]


def test_a_table_pinot_paused_itself_is_resumed_with_a_warning():
    table = RealtimeTable(paused=True, reason="STORAGE_QUOTA_EXCEEDED")
    result = run(table, state="consuming")
    assert result["changed"] is True
    assert result["warnings"] == ["Pinot paused 'events' itself (STORAGE_QUOTA_EXCEEDED); it pauses it again "
                                  "while that reason holds"]


@pytest.mark.parametrize(("params", "field"), [
    ({}, "state"),
    ({"state": "paused", "force_commit": True}, "force_commit"),
    ({"state": "paused", "consume_from": "largest"}, "consume_from"),
    ({"name": "events_OFFLINE", "state": "paused"}, "name"),
    ({"name": "missing", "state": "paused"}, "name"),
])
def test_bad_input_names_the_field_and_writes_nothing(params, field):
    table = RealtimeTable()
    with pytest.raises(SpecError) as refused:
        run(table, **params)
    assert refused.value.field == field
    assert table.executed_requests == []


def test_the_realtime_suffix_is_accepted():
    table = RealtimeTable()
    assert run(table, name="events_REALTIME", state="consuming")["consumption"]["table"] == "events"
