# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Segment reloads: ask the servers whether a table's segments need one, reload them, follow the job to its end.

Servers answer `needReload` by comparing each segment with the table config and schema in force (an added
column, a new index), so a reload only when needed makes a rerun write nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import raw_name, table_types

NO_SEGMENTS = "Failed to find any segments"  # Pinot's 404 for a table without segments: nothing to reload


class TableReload:
    """The reload of one table type (`events` OFFLINE, say)."""

    def __init__(self, client, name, table_type):
        self.client = client
        self.name = name
        self.table_type = table_type
        self.name_with_type = f"{name}_{table_type}"

    def needed(self):
        found = self.client.get("/segments/" + quote(self.name_with_type, safe="") + "/needReload") or {}
        return bool(found.get("needReload"))

    def start(self, force_download=False):
        """Send the reload; the controller's job id, or None when the table has no segment to reload."""
        params = {"type": self.table_type}
        if force_download:
            params["forceDownload"] = "true"
        try:
            response = self.client.post("/segments/" + quote(self.name, safe="") + "/reload", params=params) or {}
        except PinotError as exc:
            if exc.status == 404 and NO_SEGMENTS in exc.reason:
                return None
            raise
        jobs = _status_json(response.get("status"))
        return (jobs.get(self.name_with_type) or {}).get("reloadJobId")

    def wait(self, job_id, timeout):
        """Poll the job until every segment it covers is reloaded; its last status. PinotError after `timeout`."""
        path = "/segments/segmentReloadStatus/" + quote(job_id, safe="")
        job = poll_until(
            lambda: self.client.get(path) or {},
            lambda job: job.get("successCount", 0) >= job.get("totalSegmentCount", 0)
            and not job.get("totalServerCallsFailed"), timeout,
            lambda job: PinotError("GET", path, reason=f"reload of {self.name_with_type} not finished after "
                                   f"{timeout}s: {job.get('successCount', 0)} of {job.get('totalSegmentCount', 0)} "
                                   f"segments reloaded, {job.get('totalServerCallsFailed', 0)} server call(s) failed"))
        return {"reloaded_segments": job.get("successCount", 0), "segments": job.get("totalSegmentCount", 0)}

    def run(self, check_mode, *, only_if_needed=True, force_download=False, wait=True, timeout=300):
        """One table type's reload as a result entry; reloads only when needed unless told otherwise."""
        entry = {"table_type": self.table_type, "need_reload": self.needed(), "job_id": None}
        if only_if_needed and not entry["need_reload"]:
            return dict(entry, status="not needed")
        if check_mode:
            return dict(entry, status="would reload")
        entry["job_id"] = self.start(force_download)
        if entry["job_id"] is None:
            return dict(entry, status="no segments")
        if not wait:
            return dict(entry, status="started")
        entry.update(self.wait(entry["job_id"], timeout))
        return dict(entry, status="done", need_reload_after=self.needed())


def _status_json(status):
    """The reload response's `status`: a JSON object in a string, {tableNameWithType: {reloadJobId, ...}}."""
    try:
        parsed = json.loads(status) if isinstance(status, str) else status
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """pinot_table_reload: reload each type of the table whose segments need it (or all, when told)."""
    name = raw_name(params["name"])
    reloads = [TableReload(client, name, kind).run(
        check_mode, only_if_needed=params.get("only_if_needed", True), force_download=params.get("force_download"),
        wait=params.get("wait", True), timeout=params.get("wait_timeout", 300))
        for kind in table_types(client, name, params.get("table_type"))]
    reloaded = [entry for entry in reloads if entry["status"] not in ("not needed", "no segments")]
    return dict(
        changed=bool(reloaded),
        changes=[f"reload {entry['table_type']}" for entry in reloaded],
        reloads=reloads,
        diff=dict(before={entry["table_type"]: {"need_reload": entry["need_reload"]} for entry in reloads},
                  after={entry["table_type"]: {"need_reload": entry.get("need_reload_after", False)
                                               if entry in reloaded else entry["need_reload"]}
                         for entry in reloads}),
    )
