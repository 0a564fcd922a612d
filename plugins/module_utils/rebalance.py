# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table rebalances: a dry run with pre-checks first, then the rebalance job, followed to its end.

Every parameter is sent explicitly: Pinot 1.4 changed the defaults of reassignInstances, includeConsuming and
minAvailableReplicas, so leaving one out would mean something else on another version. A dry run that says
NO_OP (the table is balanced) ends the run without a write.
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot_client import PinotError, poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.table_names import raw_name, table_types

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


def argument_spec(*options):
    """Ansible options for the rebalance parameters (all of them, or those named), with the defaults sent."""
    spec = {}
    for option in options or PARAMETERS:
        _parameter, kind, default = PARAMETERS[option]
        spec[option] = dict(type=kind, default=default)
        if option in CHOICES:
            spec[option]["choices"] = CHOICES[option]
    return spec


def query(options):
    """The rebalance query parameters for `options` (a dict of PARAMETERS keys; missing or None: the default)."""
    params = {}
    for option, (parameter, _kind, default) in PARAMETERS.items():
        value = options.get(option)
        value = default if value is None else value
        if value is not None:
            params[parameter] = str(value).lower() if isinstance(value, bool) else str(value)
    return params


def summary(result):
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
        """Read-only: what the rebalance would do, with Pinot's pre-checks (1.4+; older versions ignore them).

        Returns (result, warning). Pinot 1.4.0's pre-checks fail with HTTP 500 ("/ by zero") on a table without
        segments; the dry run is then repeated without them, and the warning says so.
        """
        query = dict(params, type=self.table_type, dryRun="true")
        try:
            return self.client.validate(self.path, None, params=dict(query, preChecks="true")) or {}, None
        except PinotError as exc:
            if exc.status != 500:
                raise
            warning = (f"rebalance pre-checks of {self.name} {self.table_type} could not run ({exc.reason}); "
                       "dry run without them")
        return self.client.validate(self.path, None, params=dict(query, preChecks="false")) or {}, warning

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
        warnings = [warning] if warning else []
        for check, verdict in sorted((planned.get("preChecksResult") or {}).items()):
            status, message = (verdict or {}).get("preCheckStatus"), (verdict or {}).get("message")
            if status == "ERROR" and not accept_pre_check_errors:
                raise PinotError("POST", self.path, reason=f"pre-check {check} of {self.name} {self.table_type} "
                                                           f"failed: {message} (nothing was moved)")
            if status in ("ERROR", "WARN"):
                warnings.append(f"rebalance pre-check {check} of {self.name} {self.table_type}: {status}: {message}")
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


def apply(client, params, check_mode):
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
