"""pinot_table_rebalance's engine on a scripted controller (no network)."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils import pinot_client, rebalance
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot_client import PinotClient, PinotError


class RebalancingController(PinotClient):
    """Table `events` (OFFLINE) that needs `moves` segment moves; a job ends after `lag` status reads."""

    def __init__(self, moves=2, lag=1, pre_checks=None, job_status="DONE", pre_checks_crash=False):
        super().__init__("http://pinot.invalid")
        self.pre_checks_crash = pre_checks_crash
        self.moves, self.lag, self.job_status = moves, lag, job_status
        self.pre_checks = pre_checks or {"diskUtilizationDuringRebalance": {"preCheckStatus": "PASS",
                                                                            "message": "Within threshold"}}
        self.reads = 0
        self.sent = []

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None):
        if method == "GET" and path == "/tables/events":
            return {"OFFLINE": {"tableName": "events_OFFLINE"}}
        if method == "GET" and path.startswith("/rebalanceStatus/"):
            self.reads += 1
            status = self.job_status if self.reads > self.lag else "IN_PROGRESS"
            if status == "DONE":
                self.moves = 0
            return {"tableRebalanceProgressStats": {"status": status, "completionStatusMsg": "msg"}}
        if not read_only:
            self.executed_requests.append(f"{method} {path}")
        self.sent.append(params)
        if method == "DELETE":
            return ["job-1"]
        if params.get("dryRun") == "true" and params.get("preChecks") == "true" and self.pre_checks_crash:
            raise PinotError(method, path, 500, "/ by zero")
        if params.get("dryRun") == "true":
            summary = {"segmentInfo": {"totalSegmentsToBeMoved": self.moves},
                       "serverInfo": {"serversGettingNewSegments": ["Server_b"] if self.moves else []}}
            return {"status": "DONE" if self.moves else "NO_OP", "description": "planned",
                    "preChecksResult": self.pre_checks, "rebalanceSummaryResult": summary}
        return {"status": "IN_PROGRESS", "jobId": "job-1", "description": "In progress"}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(pinot_client.time, "sleep", lambda seconds: None)


def run(client, check_mode=False, **params):
    return rebalance.apply(client, dict({"name": "events", "wait": True, "wait_timeout": 30}, **params), check_mode)


def test_every_parameter_is_sent_explicitly_with_the_collection_defaults():
    assert rebalance.query({"min_available_replicas": 2, "downtime": None}) == {
        "downtime": "false", "minAvailableReplicas": "2", "includeConsuming": "true", "reassignInstances": "true",
        "bootstrap": "false", "bestEfforts": "false", "lowDiskMode": "false", "minimizeDataMovement": "ENABLE",
        "batchSizePerServer": "-1", "updateTargetTier": "false", "forceCommit": "false",
        "allowPeerDownloadDataLoss": "false"}
    spec = rebalance.argument_spec("downtime", "minimize_data_movement")
    assert spec == {"downtime": {"type": "bool", "default": False},
                    "minimize_data_movement": {"type": "str", "default": "ENABLE",
                                               "choices": ["ENABLE", "DISABLE", "DEFAULT"]}}


def test_dry_run_then_job_then_a_balanced_table_gets_no_write():
    client = RebalancingController()
    predicted = run(client, check_mode=True)
    assert (predicted["changed"], predicted["changes"], client.executed_requests) == (
        True, ["rebalance OFFLINE"], [])
    assert predicted["rebalances"][0]["dry_run"] == {"status": "DONE", "description": "planned",
                                                     "segments_to_move": 2, "servers_getting_segments": ["Server_b"]}
    assert predicted["rebalances"][0]["pre_checks"] == {"diskUtilizationDuringRebalance": "PASS"}
    assert predicted["diff"] == {"before": {"OFFLINE": {"segments_to_move": 2}},
                                 "after": {"OFFLINE": {"segments_to_move": 0}}}

    done = run(client, min_available_replicas=2)
    assert client.executed_requests == ["POST /tables/events/rebalance"]
    assert client.sent[-1]["dryRun"] == "false" and client.sent[-1]["minAvailableReplicas"] == "2"
    assert client.sent[-1]["type"] == "OFFLINE"
    assert (done["rebalances"][0]["status"], done["rebalances"][0]["job_id"]) == ("DONE", "job-1")

    again = run(client)
    assert (again["changed"], again["rebalances"][0]["status"], len(client.executed_requests)) == (False, "NO_OP", 1)


def test_a_job_still_running_at_the_timeout_is_cancelled(monkeypatch):
    client = RebalancingController(lag=10 ** 6)
    clock = iter(range(0, 10 ** 6, 20))
    monkeypatch.setattr(pinot_client.time, "monotonic", lambda: next(clock))
    with pytest.raises(PinotError, match=r"still IN_PROGRESS after 30s \(job job-1\); cancelled job\(s\) job-1"):
        run(client)
    assert client.executed_requests == ["POST /tables/events/rebalance", "DELETE /tables/events/rebalance"]


def test_a_failed_job_fails_the_task():
    with pytest.raises(PinotError, match="rebalance of events OFFLINE ended FAILED: msg"):
        run(RebalancingController(job_status="FAILED"))


def test_a_pre_check_error_stops_before_anything_moves_unless_accepted():
    checks = {"diskUtilizationAfterRebalance": {"preCheckStatus": "ERROR", "message": "Above threshold (95%)"},
              "needsReloadStatus": {"preCheckStatus": "WARN", "message": "Reload needed"}}
    client = RebalancingController(pre_checks=checks)
    with pytest.raises(PinotError, match="pre-check diskUtilizationAfterRebalance of events OFFLINE failed: "
                                         r"Above threshold \(95%\) \(nothing was moved\)"):
        run(client)
    assert client.executed_requests == []
    accepted = run(client, accept_pre_check_errors=True)
    assert accepted["rebalances"][0]["status"] == "DONE"
    assert accepted["warnings"] == [
        "rebalance pre-check diskUtilizationAfterRebalance of events OFFLINE: ERROR: Above threshold (95%)",
        "rebalance pre-check needsReloadStatus of events OFFLINE: WARN: Reload needed"]


def test_pre_checks_that_crash_the_controller_are_skipped_with_a_warning():
    client = RebalancingController(moves=0, pre_checks_crash=True)  # Pinot 1.4.0 on a table without segments
    result = run(client)
    assert (result["changed"], result["rebalances"][0]["status"], client.executed_requests) == (False, "NO_OP", [])
    assert [params["preChecks"] for params in client.sent] == ["true", "false"]
    assert result["warnings"] == ["rebalance pre-checks of events OFFLINE could not run (/ by zero); dry run "
                                  "without them"]
