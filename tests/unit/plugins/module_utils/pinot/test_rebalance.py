"""pinot_table_rebalance's engine on a scripted controller (no network)."""

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import client as pinot_client
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import rebalance
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError


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

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
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
    spec = rebalance.parameter_spec("downtime", "minimize_data_movement")
    assert spec == {"downtime": {"type": "bool", "default": False},
                    "minimize_data_movement": {"type": "str", "default": "ENABLE",
                                               "choices": ["ENABLE", "DISABLE", "DEFAULT"]}}
    assert rebalance.argument_spec().keys() == set(rebalance.PARAMETERS) | {
        "accept_pre_check_errors", "wait", "wait_timeout", "cancel_on_timeout"}


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
    with pytest.raises(PinotError, match="pre-check diskUtilizationAfterRebalance of events OFFLINE: ERROR: "
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


class TenantController(PinotClient):
    """Server tenant `DefaultTenant` with tables `moving` (to rebalance) and `balanced`; the job's tables end
    `table_end` (Pinot 1.5's DONE) after `lag` status reads."""

    def __init__(self, *, moving=("events_OFFLINE",), balanced=("clicks_OFFLINE",), lag=1, table_end="DONE",
                 warned=None, errored=None, can_cancel=True, known_fields=None):
        super().__init__("http://pinot.invalid")
        self.known_fields = known_fields
        self.moving, self.balanced, self.lag, self.table_end = list(moving), list(balanced), lag, table_end
        self.warned, self.errored, self.can_cancel = warned or {}, errored or {}, can_cancel
        self.reads = 0
        self.bodies = []

    def request(self, method, path, *, params=None, body=None, missing_ok=False, retry_if=None, read_only=None,
                headers=None):
        if method == "GET" and path == "/tenants":
            return {"SERVER_TENANTS": ["DefaultTenant"], "BROKER_TENANTS": ["DefaultTenant"]}
        if method == "GET" and path == "/tenants/rebalanceStatus/tenant-job":
            self.reads += 1
            done = self.reads > self.lag
            statuses = {table: self.table_end if done else "REBALANCING" for table in self.moving}
            if done:
                self.balanced, self.moving = self.balanced + self.moving, []
            return {"tenantRebalanceProgressStats": {"tableStatusMap": statuses,
                                                     "remainingTables": 0 if done else len(statuses)}}
        if not read_only:
            self.executed_requests.append(f"{method} {path}")
        if method == "DELETE":
            if not self.can_cancel:
                raise PinotError(method, path, 405, "HTTP 405 Method Not Allowed")
            return {}
        self.bodies.append(body)
        unknown = sorted(set(body) - self.known_fields) if self.known_fields else []
        if unknown:
            raise PinotError(method, path, 400, f'Unrecognized field "{unknown[0]}" (class TenantRebalanceConfig)')
        tables = [t for t in self.moving + self.balanced
                  if t in body["includeTables"] or not body["includeTables"]]
        tables = [t for t in tables if t not in body["excludeTables"]]
        results = {t: {"status": ("DONE" if t in self.moving else "NO_OP") if body["dryRun"] else "IN_PROGRESS",
                       "description": "Dry-run mode" if body["dryRun"] else "In progress"} for t in tables}
        moves = sum(1 for t in tables if t in self.moving)
        checks = {"diskUtilizationAfterRebalance": {"warnedTables": self.warned, "erroredTables": self.errored}}
        return {"jobId": None if body["dryRun"] else "tenant-job", "rebalanceTableResults": results,
                "aggregatedPreChecksResult": checks if body["dryRun"] else {},
                "statusSummary": {"DONE": moves} if moves else {"NO_OP": len(tables)},
                "aggregatedRebalanceSummary": {"segmentInfo": {"totalSegmentsToBeMoved": moves},
                                               "serverInfo": {"serversGettingNewSegments": ["Server_b"] * bool(moves)}}}


def run_tenant(client, check_mode=False, **params):
    return rebalance.tenant_apply(client, dict({"name": "DefaultTenant", "wait_timeout": 30}, **params), check_mode)


def test_tenant_dry_run_then_one_job_then_a_balanced_tenant_gets_no_write():
    client = TenantController()
    predicted = run_tenant(client, check_mode=True)
    assert (predicted["changed"], predicted["changes"], client.executed_requests) == (
        True, ["rebalance events_OFFLINE"], [])
    assert predicted["rebalances"] == [
        {"table": "clicks_OFFLINE", "status": "NO_OP", "description": "Dry-run mode"},
        {"table": "events_OFFLINE", "status": "would rebalance", "description": "Dry-run mode"}]
    assert predicted["diff"] == {"before": {"segments_to_move": 1, "tables_to_rebalance": ["events_OFFLINE"]},
                                 "after": {"segments_to_move": 0, "tables_to_rebalance": []}}
    assert (client.bodies[0]["includeTables"], client.bodies[0]["excludeTables"]) == ([], [])
    assert (client.bodies[0]["dryRun"], client.bodies[0]["preChecks"], client.bodies[0]["minAvailableReplicas"],
            client.bodies[0]["reassignInstances"], client.bodies[0]["degreeOfParallelism"]) == (True, True, 1, True, 1)

    done = run_tenant(client, degree_of_parallelism=2)
    assert client.executed_requests == ["POST /tenants/DefaultTenant/rebalance"]
    assert (client.bodies[-1]["dryRun"], client.bodies[-1]["degreeOfParallelism"]) == (False, 2)
    assert done["job_id"] == "tenant-job"
    assert [entry["status"] for entry in done["rebalances"]] == ["NO_OP", "DONE"]

    again = run_tenant(client)
    assert (again["changed"], again["job_id"], len(client.executed_requests)) == (False, None, 1)


def test_tenant_tables_that_end_as_pinot_1_4_says_or_with_an_error():
    assert run_tenant(TenantController(table_end="PROCESSED"))["rebalances"][1]["status"] == "DONE"
    with pytest.raises(PinotError, match="job tenant-job.* failed for events_OFFLINE: Caught exception"):
        run_tenant(TenantController(table_end="Caught exception/error while rebalancing table: events_OFFLINE"))


@pytest.mark.parametrize("can_cancel, what", [(True, "cancelled"), (False, "left running")])
def test_a_tenant_job_still_running_at_the_timeout_is_cancelled_where_pinot_can(monkeypatch, can_cancel, what):
    client = TenantController(lag=10 ** 6, can_cancel=can_cancel)
    clock = iter(range(0, 10 ** 6, 20))
    monkeypatch.setattr(pinot_client.time, "monotonic", lambda: next(clock))
    with pytest.raises(PinotError, match=rf"not finished after 30s \(job tenant-job, {what}\); tables not done: "
                                         "events_OFFLINE"):
        run_tenant(client)
    assert client.executed_requests == ["POST /tenants/DefaultTenant/rebalance",
                                        "DELETE /tenants/rebalance/tenant-job"]


def test_tenant_pre_check_errors_stop_before_anything_moves_unless_accepted():
    client = TenantController(errored={"events_OFFLINE": "Above threshold"}, warned={"clicks_OFFLINE": "No data"})
    with pytest.raises(PinotError, match="diskUtilizationAfterRebalance of events_OFFLINE: ERROR: Above threshold "
                                         r"\(nothing was moved\)"):
        run_tenant(client)
    assert client.executed_requests == []
    accepted = run_tenant(client, accept_pre_check_errors=True)
    assert accepted["warnings"] == [
        "rebalance pre-check diskUtilizationAfterRebalance of events_OFFLINE: ERROR: Above threshold",
        "rebalance pre-check diskUtilizationAfterRebalance of clicks_OFFLINE: WARN: No data"]


@pytest.mark.parametrize("params, field, message", [
    ({"name": "Nowhere"}, "name", "no server tenant named 'Nowhere' (there are: DefaultTenant)"),
    ({"include_tables": ["events"]}, "include_tables", "'events' needs its type"),
    ({"exclude_tables": ["clicks"]}, "exclude_tables", "'clicks' needs its type"),
    ({"include_tables": ["views_OFFLINE"]}, "include_tables", "not tables of server tenant DefaultTenant: "
                                                              "views_OFFLINE"),
    ({"degree_of_parallelism": 0}, "degree_of_parallelism", "must be at least 1"),
])
def test_bad_tenant_rebalance_input_names_the_field_and_writes_nothing(params, field, message):
    client = TenantController()
    with pytest.raises(SpecError) as error:
        run_tenant(client, **params)
    assert error.value.field == field and message in error.value.message
    assert client.executed_requests == []


def test_a_field_an_older_controller_does_not_know_is_left_out_only_at_its_older_meaning():
    fields = {*rebalance.settings({}), "degreeOfParallelism", "includeTables", "excludeTables", "verboseResult",
              "dryRun", "preChecks"} - {"allowPeerDownloadDataLoss"}  # Pinot 1.4.0's TenantRebalanceConfig
    client = TenantController(known_fields=fields)
    done = run_tenant(client)
    assert done["rebalances"][1]["status"] == "DONE" and client.executed_requests == [
        "POST /tenants/DefaultTenant/rebalance"]
    assert "allowPeerDownloadDataLoss" not in client.bodies[-1]
    with pytest.raises(SpecError) as error:
        run_tenant(TenantController(known_fields=fields), allow_peer_download_data_loss=True)
    assert error.value.field == "allow_peer_download_data_loss"
