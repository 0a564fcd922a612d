# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table rebalances: a dry run with pre-checks first, then the rebalance job, followed to its end.

Every parameter is sent explicitly: Pinot 1.4 changed the defaults of reassignInstances, includeConsuming and
minAvailableReplicas, so leaving one out would mean something else on another version. A dry run that says
NO_OP (the table is balanced) ends the run without a write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import raw_name, table_types

# Option name: (Pinot query parameter, Ansible type, the value sent unless the task says otherwise). None: not sent.
PARAMETERS = {
    "downtime": ("downtime", "bool", False),
    "min_available_replicas": ("minAvailableReplicas", "int", 1),
    "include_consuming": ("includeConsuming", "bool", True),
    "reassign_instances": ("reassignInstances", "bool", True),
    "bootstrap": ("bootstrap", "bool", False),
    "best_efforts": ("bestEfforts", "bool", False),
    "low_disk_mode": ("lowDiskMode", "bool", False),
    "minimize_data_movement": ("minimizeDataMovement", "str", "ENABLE"),
    "batch_size_per_server": ("batchSizePerServer", "int", -1),
    "update_target_tier": ("updateTargetTier", "bool", False),
    "force_commit": ("forceCommit", "bool", False),
    "allow_peer_download_data_loss": ("allowPeerDownloadDataLoss", "bool", False),
    "disk_utilization_threshold": ("diskUtilizationThreshold", "float", None),
    "external_view_stabilization_timeout_ms": ("externalViewStabilizationTimeoutInMs", "int", None),
}
CHOICES = {"minimize_data_movement": ["ENABLE", "DISABLE", "DEFAULT"]}
DONE = frozenset(("DONE", "NO_OP"))
FAILED = frozenset(("FAILED", "ABORTED", "CANCELLED", "UNKNOWN_ERROR"))
OPTION_OF = {parameter: option for option, (parameter, _kind, _default) in PARAMETERS.items()}
UNRECOGNIZED_FIELD = re.compile(r'Unrecognized field "(\w+)"')
TENANT_TABLE_DONE = frozenset(("PROCESSED", "DONE"))  # a table's end in a tenant job, on 1.4 and on 1.5


def parameter_spec(*options: str) -> dict[str, dict[str, Any]]:
    """Ansible options for the rebalance parameters (all of them, or those named), with the defaults sent."""
    spec = {}
    for option in options or PARAMETERS:
        _parameter, kind, default = PARAMETERS[option]
        spec[option] = dict(type=kind, default=default)
        if option in CHOICES:
            spec[option]["choices"] = CHOICES[option]
    return spec


def argument_spec() -> dict[str, dict[str, Any]]:
    """Ansible options of a rebalance module (doc fragment pinotops.k8s.rebalance): every parameter, and how
    the job is followed."""
    return dict(parameter_spec(), accept_pre_check_errors=dict(type="bool", default=False),
                wait=dict(type="bool", default=True), wait_timeout=dict(type="int", default=600),
                cancel_on_timeout=dict(type="bool", default=True))


def settings(options: dict[str, Any]) -> dict[str, Any]:
    """Pinot's name and value of each rebalance parameter sent for `options` (a dict of PARAMETERS keys;
    missing or None: the default). The table rebalance takes them as query parameters, the tenant one as JSON."""
    found = {}
    for option, (parameter, _kind, default) in PARAMETERS.items():
        value = options.get(option)
        value = default if value is None else value
        if value is not None:
            found[parameter] = value
    return found


def query(options: dict[str, Any]) -> dict[str, str]:
    """The rebalance query parameters for `options`."""
    return {parameter: str(value).lower() if isinstance(value, bool) else str(value)
            for parameter, value in settings(options).items()}


def with_pre_checks(dry_run: Callable[[bool], dict[str, Any] | None], what: str) -> tuple[dict[str, Any], str | None]:
    """`dry_run(pre_checks)` with Pinot's pre-checks (1.4+; older versions ignore them); (result, warning).

    Pinot 1.4.0's pre-checks fail with HTTP 500 ("/ by zero") on a table without segments; the dry run is then
    repeated without them, and the warning says so.
    """
    try:
        return dry_run(True) or {}, None
    except PinotError as exc:
        if exc.status != 500:
            raise
        warning = f"rebalance pre-checks of {what} could not run ({exc.reason}); dry run without them"
    return dry_run(False) or {}, warning


def refuse_pre_check_errors(errors: list[str], path: str, accept: bool) -> list[str]:
    """PinotError for pre-check errors (`errors`: messages), unless accepted; the warnings to give otherwise."""
    if errors and not accept:
        raise PinotError("POST", path, reason=f"{'; '.join(errors)} (nothing was moved)")
    return errors


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a dry run or a rebalance said, in a few keys (the full summary stays under `summary`)."""
    result = result or {}
    segments = (result.get("rebalanceSummaryResult") or {}).get("segmentInfo") or {}
    servers = (result.get("rebalanceSummaryResult") or {}).get("serverInfo") or {}
    found = {key: result.get(key) for key in ("status", "description", "jobId") if key in result}
    if segments:
        found["segments_to_move"] = segments.get("totalSegmentsToBeMoved")
        found["servers_getting_segments"] = servers.get("serversGettingNewSegments") or []
    return found


class TableRebalance:
    """The rebalance of one table type."""

    def __init__(self, client, name, table_type):
        self.client = client
        self.name = name
        self.table_type = table_type
        self.path = "/tables/" + quote(name, safe="") + "/rebalance"

    def dry_run(self, params):
        """Read-only: what the rebalance would do, with Pinot's pre-checks; (result, warning)."""
        query = dict(params, type=self.table_type, dryRun="true")
        return with_pre_checks(lambda pre_checks: self.client.validate(
            self.path, None, params=dict(query, preChecks=str(pre_checks).lower())), f"{self.name} {self.table_type}")

    def start(self, params):
        try:
            return self.client.post(self.path, params=dict(params, type=self.table_type, dryRun="false")) or {}
        except PinotError as exc:
            if exc.status == 409:
                raise PinotError(exc.method, exc.path, exc.status, f"a rebalance of {self.name} "
                                 f"{self.table_type} is already running: {exc.reason}") from None
            raise

    def cancel(self):
        """Stop the running rebalance of this type; the ids of the jobs Pinot cancelled."""
        return self.client.delete(self.path, params={"type": self.table_type}) or []

    def wait(self, job_id, timeout, cancel_on_timeout=True):
        """Poll the job until it ends; its final status. On timeout the job is cancelled (unless told not to)."""
        path = "/rebalanceStatus/" + quote(str(job_id), safe="")

        def ended(progress):
            if progress.get("status") in FAILED:
                raise PinotError("GET", path, reason=f"rebalance of {self.name} {self.table_type} ended "
                                                     f"{progress['status']}: {progress.get('completionStatusMsg')}")
            return progress.get("status") in DONE

        def timed_out(progress):
            cancelled = self.cancel() if cancel_on_timeout else []
            what = f"cancelled job(s) {', '.join(map(str, cancelled))}" if cancelled else "left running"
            reason = (f"rebalance of {self.name} {self.table_type} still {progress.get('status')} "
                      f"after {timeout}s (job {job_id}); {what}")
            return PinotError("GET", path, reason=reason)

        return poll_until(lambda: (self.client.get(path, missing_ok=True) or {}).get("tableRebalanceProgressStats")
                          or {}, ended, timeout, timed_out)["status"]

    def wait_for_convergence(self, timeout):
        """Pinot before 1.0 starts a rebalance without a job: DONE once the external view equals the ideal state."""
        table = "/tables/" + quote(self.name, safe="")
        params = {"tableType": self.table_type}

        def views():
            return [(self.client.get(table + view, params=params, missing_ok=True) or {}).get(self.table_type) or {}
                    for view in ("/idealstate", "/externalview")]

        poll_until(views, lambda found: found[0] == found[1], timeout, lambda _found: PinotError(
            "GET", table + "/externalview",
            reason=f"external view still differs from the ideal state after {timeout}s"))
        return "DONE"

    def run(self, options, check_mode, *, wait=True, timeout=600, accept_pre_check_errors=False,
            cancel_on_timeout=True):
        """Dry run, then (unless NO_OP or check mode) the rebalance; one result entry and its warnings."""
        params = query(options)
        planned, warning = self.dry_run(params)
        entry = {"table_type": self.table_type, "dry_run": summary(planned), "job_id": None}
        verdicts = sorted((check, (verdict or {}).get("preCheckStatus"), (verdict or {}).get("message"))
                          for check, verdict in (planned.get("preChecksResult") or {}).items())
        what = f"{self.name} {self.table_type}"
        warnings = [warning] if warning else []
        warnings += refuse_pre_check_errors([f"rebalance pre-check {check} of {what}: ERROR: {message}"
                                             for check, status, message in verdicts if status == "ERROR"],
                                            self.path, accept_pre_check_errors)
        warnings += [f"rebalance pre-check {check} of {what}: WARN: {message}"
                     for check, status, message in verdicts if status == "WARN"]
        if planned.get("preChecksResult"):
            entry["pre_checks"] = {check: (verdict or {}).get("preCheckStatus")
                                   for check, verdict in planned["preChecksResult"].items()}
        if planned.get("status") in FAILED:
            raise PinotError("POST", self.path, reason=f"rebalance dry run of {self.name} {self.table_type} "
                                                       f"failed: {planned.get('description')}")
        if planned.get("status") == "NO_OP":
            return dict(entry, status="NO_OP"), warnings
        if check_mode:
            return dict(entry, status="would rebalance"), warnings
        started = self.start(params)
        entry.update(status=started.get("status"), job_id=started.get("jobId"), description=started.get("description"))
        if started.get("status") == "IN_PROGRESS" and wait:
            entry["status"] = self.wait(started["jobId"], timeout, cancel_on_timeout) if started.get("jobId") \
                else self.wait_for_convergence(timeout)
        elif started.get("status") in FAILED:
            raise PinotError("POST", self.path, reason=f"rebalance of {self.name} {self.table_type} "
                                                       f"{started.get('status')}: {started.get('description')}")
        return entry, warnings


def apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """pinot_table_rebalance: each type of the table, dry run first; a balanced type gets no write."""
    name = raw_name(params["name"])
    entries, warnings = [], []
    for kind in table_types(client, name, params.get("table_type")):
        entry, found = TableRebalance(client, name, kind).run(
            params, check_mode, wait=params.get("wait", True), timeout=params.get("wait_timeout", 600),
            accept_pre_check_errors=params.get("accept_pre_check_errors", False),
            cancel_on_timeout=params.get("cancel_on_timeout", True))
        entries.append(entry)
        warnings.extend(found)
    moved = [entry for entry in entries if entry["status"] != "NO_OP"]
    return dict(
        changed=bool(moved),
        changes=[f"rebalance {entry['table_type']}" for entry in moved],
        rebalances=entries,
        warnings=warnings,
        diff=dict(before={entry["table_type"]: {"segments_to_move": entry["dry_run"].get("segments_to_move")}
                          for entry in entries},
                  after={entry["table_type"]: {"segments_to_move": 0 if entry in moved else
                                               entry["dry_run"].get("segments_to_move")} for entry in entries}),
    )


def validate_tenant_params(params):
    """Local checks of a tenant rebalance, before any request."""
    for field in ("include_tables", "exclude_tables"):
        for table in params.get(field) or []:
            if raw_name(table) == table:
                raise SpecError(field, f"'{table}' needs its type, as Pinot names a tenant's tables: "
                                       + " or ".join(table + suffix for suffix in TYPE_SUFFIX.values()))
    if params.get("degree_of_parallelism", 1) < 1:
        raise SpecError("degree_of_parallelism", "must be at least 1")


class TenantRebalance:
    """One job that rebalances the tables of a server tenant (all, or those included), table by table."""

    def __init__(self, client, name):
        self.client = client
        self.name = name
        self.path = "/tenants/" + quote(name, safe="") + "/rebalance"

    def validate_tenant_with_server(self):
        tenants = (self.client.get("/tenants", params={"type": "server"}) or {}).get("SERVER_TENANTS") or []
        if self.name not in tenants:
            raise SpecError("name", f"no server tenant named '{self.name}' (there are: {', '.join(sorted(tenants))})")

    def dry_run(self, body):
        """Read-only: each table's dry run, with the pre-checks aggregated; (result, warning, the body the
        controller accepts).

        The tenant rebalance takes the parameters as JSON, and an older controller refuses a field it does not
        know (1.4.0: allowPeerDownloadDataLoss) with HTTP 400. Such a field is left out when it has the value
        that means what that version does anyway; otherwise the option is refused, naming it.
        """
        while True:
            try:
                result, warning = with_pre_checks(lambda pre_checks, sent=body: self.client.validate(
                    self.path, dict(sent, dryRun=True, preChecks=pre_checks)), f"tenant {self.name}")
                return result, warning, body
            except PinotError as exc:
                unknown = UNRECOGNIZED_FIELD.search(exc.reason or "") if exc.status == 400 else None
                option = OPTION_OF.get(unknown.group(1)) if unknown else None
                if option is None:
                    raise
                if body[unknown.group(1)] != PARAMETERS[option][2]:
                    raise SpecError(option, f"this controller's tenant rebalance does not know "
                                            f"{unknown.group(1)} (a later Pinot version does)") from None
                body = {key: value for key, value in body.items() if key != unknown.group(1)}

    def cancel(self, job_id):
        """Cancel the tenant job (Pinot 1.5+); whether the controller could."""
        try:
            return self.client.request("DELETE", "/tenants/rebalance/" + quote(str(job_id), safe=""),
                                       missing_ok=True) is not None
        except PinotError as exc:
            if exc.status == 405:  # no such route before 1.5
                return False
            raise

    def wait(self, job_id, tables, timeout, cancel_on_timeout=True):
        """Poll the tenant job until no table of it is left; a table ends PROCESSED (1.4) or DONE (1.5), or
        with the reason it failed. On timeout the job is cancelled where Pinot can (unless told not to)."""
        path = "/tenants/rebalanceStatus/" + quote(str(job_id), safe="")

        def timed_out(stats):
            what = "cancelled" if cancel_on_timeout and self.cancel(job_id) else "left running"
            waiting = sorted(table for table, status in (stats.get("tableStatusMap") or {}).items()
                             if status not in TENANT_TABLE_DONE)
            return PinotError("GET", path, reason=f"rebalance of tenant {self.name} not finished after {timeout}s "
                                                  f"(job {job_id}, {what}); tables not done: {', '.join(waiting)}")

        stats = poll_until(lambda: (self.client.get(path, missing_ok=True) or {}).get("tenantRebalanceProgressStats")
                           or {}, lambda stats: stats.get("remainingTables") == 0, timeout, timed_out)
        statuses = {table: (stats.get("tableStatusMap") or {}).get(table) for table in tables}
        failed = [f"{table}: {status}" for table, status in sorted(statuses.items()) if status not in TENANT_TABLE_DONE]
        if failed:
            raise PinotError("GET", path, reason=f"rebalance of tenant {self.name} (job {job_id}) failed for "
                                                 f"{'; '.join(failed)}")
        return statuses


def tenant_pre_check_findings(planned: dict[str, Any], verdict: str) -> list[str]:
    """Messages of the aggregated pre-checks that gave `verdict` (errored or warned) for some table."""
    label = {"errored": "ERROR", "warned": "WARN"}[verdict]
    return [f"rebalance pre-check {check} of {table}: {label}: {message}"
            for check, found in sorted((planned.get("aggregatedPreChecksResult") or {}).items())
            for table, message in sorted(((found or {}).get(f"{verdict}Tables") or {}).items())]


def tenant_apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """pinot_tenant_rebalance: the tenant's dry run first; a tenant whose tables are all balanced gets no write."""
    validate_tenant_params(params)
    rebalance = TenantRebalance(client, params["name"])
    rebalance.validate_tenant_with_server()
    body = dict(settings(params), degreeOfParallelism=params.get("degree_of_parallelism", 1),
                includeTables=sorted(params.get("include_tables") or []),
                excludeTables=sorted(params.get("exclude_tables") or []), verboseResult=False)
    planned, warning, body = rebalance.dry_run(body)
    results = planned.get("rebalanceTableResults") or {}
    absent = sorted(set(params.get("include_tables") or []) - set(results))
    if absent:
        raise SpecError("include_tables", f"not tables of server tenant {rebalance.name}: {', '.join(absent)}")
    failed = [f"{table}: {result.get('description')}" for table, result in sorted(results.items())
              if result.get("status") in FAILED]
    if failed:
        raise PinotError("POST", rebalance.path, reason=f"rebalance dry run of tenant {rebalance.name} failed for "
                                                        f"{'; '.join(failed)} (nothing was moved)")
    warnings = [warning] if warning else []
    warnings += refuse_pre_check_errors(tenant_pre_check_findings(planned, "errored"), rebalance.path,
                                        params.get("accept_pre_check_errors", False))
    warnings += tenant_pre_check_findings(planned, "warned")
    moving = sorted(table for table, result in results.items() if result.get("status") != "NO_OP")
    entries = {table: {"table": table, "status": "NO_OP" if table not in moving else "would rebalance",
                       "description": results[table].get("description")} for table in sorted(results)}
    job_id = None
    if moving and not check_mode:
        started = client.post(rebalance.path, body=dict(body, dryRun=False, preChecks=False)) or {}
        job_id = started.get("jobId")
        for table in moving:
            entries[table]["status"] = "IN_PROGRESS"
        if params.get("wait", True) and job_id:
            for table in rebalance.wait(job_id, moving, params.get("wait_timeout", 600),
                                        params.get("cancel_on_timeout", True)):
                entries[table]["status"] = "DONE"
    to_move = summary({"rebalanceSummaryResult": planned.get("aggregatedRebalanceSummary")})
    return dict(
        changed=bool(moving),
        changes=[f"rebalance {table}" for table in moving],
        rebalances=list(entries.values()),
        job_id=job_id,
        dry_run=dict(to_move, status_summary=planned.get("statusSummary") or {}),
        warnings=warnings,
        diff=dict(before={"segments_to_move": to_move.get("segments_to_move"), "tables_to_rebalance": moving},
                  after={"segments_to_move": 0 if moving else to_move.get("segments_to_move"),
                         "tables_to_rebalance": []}),
    )
