# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""REALTIME consumption: pause, resume and force commit, judged by the table's pause status.

Pinot keeps the pause flag in the table's ideal state; `GET /tables/{t}/pauseStatus` returns it with the segments
still CONSUMING there. A pause sets the flag and commits the consuming segments, so it is complete when none is
left; a resume clears the flag and has the controller create consuming segments again.

A pause and a force commit reach the servers as Helix messages for the segments they consume. A segment the ideal
state names but no server has taken up yet (a table created or resumed moments ago) gets no message: Pinot answers
500 "No force commit message sent" when no server holds any segment of the table, and otherwise the segment is
never committed. Both are therefore sent once the external view shows every consuming segment on a server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError, poll_until
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TYPE_SUFFIX
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table_names import raw_name

STATES = ("paused", "consuming")
# Where a resume starts reading the stream: Pinot's own values (lastConsumed is its default).
CONSUME_FROM = ("lastConsumed", "smallest", "largest")
TAKEN_UP = {"CONSUMING", "ONLINE"}  # external view states of a consuming segment a server holds (or committed)
ADMINISTRATIVE = "ADMINISTRATIVE"  # the pause reason of the API; Pinot pauses by itself for other reasons


class Consumption:
    """One REALTIME table's consumption as the controller reports it."""

    def __init__(self, client, name):
        self.client = client
        self.name = name
        self.path = "/tables/" + quote(name, safe="")

    def status(self):
        try:
            found = self.client.get(self.path + "/pauseStatus") or {}
        except PinotError as exc:
            if exc.status == 404:
                raise SpecError("name", f"no REALTIME table named '{self.name}'") from None
            if exc.status == 400:  # a disabled table
                raise SpecError("name", f"the table '{self.name}' cannot be paused or resumed: {exc.reason}") from None
            raise
        return {
            "paused": bool(found.get("pauseFlag")),
            "consuming_segments": sorted(found.get("consumingSegments") or []),
            "reason_code": found.get("reasonCode"),
            "comment": found.get("comment"),
            "timestamp": found.get("timestamp"),
        }

    def pause(self, comment):
        self.client.post(self.path + "/pauseConsumption", params={"comment": comment})

    def resume(self, consume_from, comment):
        self.client.post(self.path + "/resumeConsumption", params={"consumeFrom": consume_from, "comment": comment})

    def force_commit(self):
        """Commit the consuming segments now; returns the controller's job id (None where it keeps no job)."""
        return (self.client.post(self.path + "/forceCommit") or {}).get("forceCommitJobId")

    def wait_for_servers(self, segments, timeout):
        """Poll the external view until some server consumes (or has committed) every one of `segments`."""
        if not segments:
            return
        path = self.path + "/externalview"

        def not_taken_up():
            # 404 until the first server reports: Pinot has no external view of the table yet.
            view = (self.client.get(path, params={"tableType": "realtime"}, missing_ok=True) or {}).get("REALTIME")
            view = view or {}
            return [segment for segment in segments
                    if not TAKEN_UP.intersection((view.get(segment) or {}).values())]

        poll_until(not_taken_up, lambda left: not left, timeout, lambda left: PinotError(
            "GET", path, reason=f"no server consumes {', '.join(left)} after {timeout}s, so none can commit it"))

    def wait_until(self, done, what, timeout):
        """Poll the pause status until `done(status)`; the last status, or PinotError after `timeout` seconds."""
        return poll_until(self.status, done, timeout, lambda status: PinotError(
            "GET", self.path + "/pauseStatus", reason=f"{what} not reached after {timeout}s; consuming segments: "
                                                      f"{', '.join(status['consuming_segments']) or 'none'}"))

    def wait_for_commit(self, job_id, timeout):
        """Poll the force-commit job until no segment of it is left to commit."""
        path = "/tables/forceCommitStatus/" + quote(job_id, safe="")

        def timed_out(left):
            reason = f"force commit not finished after {timeout}s; segments still to commit: {', '.join(sorted(left))}"
            return PinotError("GET", path, reason=reason)

        poll_until(lambda: (self.client.get(path) or {}).get("segmentsYetToBeCommitted") or [],
                   lambda left: not left, timeout, timed_out)


def validate_params(params):
    """Local checks, before any request; returns the raw table name."""
    name = params["name"]
    if name.endswith(TYPE_SUFFIX["OFFLINE"]):
        raise SpecError("name", f"'{name}' names an OFFLINE table; only REALTIME tables consume")
    state, force_commit = params.get("state"), params.get("force_commit")
    if state is None and not force_commit:
        raise SpecError("state", "give state (paused or consuming), force_commit=true, or both")
    if state == "paused" and force_commit:
        raise SpecError("force_commit", "a pause commits the consuming segments already; not with state=paused")
    if params.get("consume_from") and state != "consuming":
        raise SpecError("consume_from", "applies to a resume only (state=consuming)")
    return raw_name(name)


def apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Bring the table's consumption to the requested state; write only when it is not there."""
    consumption = Consumption(client, validate_params(params))
    before = consumption.status()
    state, wait, timeout = params.get("state"), params.get("wait", True), params.get("wait_timeout", 300)
    changes, committed, warnings = [], [], []
    if state == "paused" and not before["paused"]:
        changes.append("pause")
        committed = before["consuming_segments"]
        if not check_mode:
            consumption.wait_for_servers(committed, timeout)
            consumption.pause(params.get("comment"))
    elif state == "consuming" and before["paused"]:
        changes.append("resume")
        if before["reason_code"] not in (None, ADMINISTRATIVE):
            warnings.append(f"Pinot paused '{consumption.name}' itself ({before['reason_code']}); it pauses it "
                            "again while that reason holds")
        if not check_mode:
            consumption.resume(params.get("consume_from"), params.get("comment"))
    elif params.get("force_commit") and before["consuming_segments"]:
        # Only what consumes when the task starts: right after a resume there is nothing worth committing.
        changes.append("force commit")
        committed = before["consuming_segments"]
        if not check_mode:
            consumption.wait_for_servers(committed, timeout)
            job_id = consumption.force_commit()
            if wait and job_id:
                consumption.wait_for_commit(job_id, timeout)

    paused = before["paused"] if state is None else state == "paused"
    after = dict(before, paused=paused)
    if check_mode:
        if state == "paused":
            after["consuming_segments"] = []
    elif wait and state == "paused":
        after = consumption.wait_until(lambda status: status["paused"] and not status["consuming_segments"],
                                       "no consuming segment left", timeout)
    elif wait and state == "consuming":
        after = consumption.wait_until(lambda status: not status["paused"] and status["consuming_segments"],
                                       "a consuming segment", timeout)
    elif changes:
        after = consumption.status()
    return dict(
        changed=bool(changes),
        changes=changes,
        warnings=warnings,
        consumption=dict(after, table=consumption.name),
        committed_segments=committed,
        diff=dict(before={"paused": before["paused"]},
                  after=dict({"paused": paused}, **({"committed_segments": committed} if committed else {}))),
    )
