#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_table_consumption
short_description: Pause, resume or force-commit the stream consumption of an Apache Pinot REALTIME table
version_added: 2.0.0
description:
  - Reads the table's pause status and writes only when it differs from O(state), so pausing a paused table or
    resuming a consuming one sends nothing.
  - A pause sets Pinot's pause flag and commits the consuming segments; with O(wait) the task ends when no segment
    is consuming any more, so every row read so far is in a committed segment. The table keeps answering queries.
  - A resume clears the flag and has the controller create consuming segments again, from the offsets the
    committed segments end at (O(consume_from=lastConsumed), Pinot's default), so no row is lost or read twice.
  - O(force_commit) commits the segments consuming when the task starts and lets consumption go on in new ones
    (what Pinot advises after a schema or stream config change). Nothing is sent when none is consuming.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: The table's raw name (a C(_REALTIME) suffix is accepted).
    type: str
    required: true
  state:
    description:
      - V(paused) pauses consumption; V(consuming) resumes it. Left out, the pause flag is not touched.
    type: str
    choices: [paused, consuming]
  consume_from:
    description:
      - Where a resume starts reading each partition. V(lastConsumed) continues after the committed segments
        (falling back to the earliest available offset when those are gone from the stream); V(smallest) reads
        again from the earliest offset (rows may repeat); V(largest) skips to the newest (rows are missed).
      - Only with O(state=consuming); sent only when the table is resumed.
    type: str
    choices: [lastConsumed, smallest, largest]
  comment:
    description: Why; Pinot keeps it with the pause status. Sent only with a pause or resume.
    type: str
  force_commit:
    description:
      - Commit the segments that are consuming when the task starts. Not with O(state=paused), which commits them
        already; with O(state=consuming) on a paused table the resume is done instead (its new segments have
        nothing to commit yet).
    type: bool
    default: false
  wait:
    description:
      - Wait until the pause is complete (no consuming segment left), the resume has created consuming segments,
        or the force commit has committed every segment it started with.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait with O(wait). A timeout fails the task (with C(changed) true if it wrote).
    type: int
    default: 300
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: full
    description: Predicts C(changed) and the committed segments from the live pause status and writes nothing.
  diff_mode:
    support: full
    description: Shows the pause flag before and after, and the segments the run commits.
"""

EXAMPLES = r"""
- name: Stop ingesting into events, with every row read so far committed
  pinotops.k8s.pinot_table_consumption:
    controller_url: http://localhost:9000
    name: events
    state: paused
    comment: stream migration

- name: Go on from where the committed segments end
  pinotops.k8s.pinot_table_consumption:
    controller_url: http://localhost:9000
    name: events
    state: consuming

- name: Commit the consuming segments after a schema change
  pinotops.k8s.pinot_table_consumption:
    controller_url: http://localhost:9000
    name: events
    force_commit: true
"""

RETURN = r"""
consumption:
  description: The table's pause status after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    table:
      description: The raw table name.
      type: str
    paused:
      description: Whether Pinot's pause flag is set.
      type: bool
    consuming_segments:
      description: Segments CONSUMING in the ideal state; empty when a pause is complete.
      type: list
      elements: str
    reason_code:
      description: Why the table is paused, as Pinot says (C(ADMINISTRATIVE) for the API, or a reason of its own
        such as C(STORAGE_QUOTA_EXCEEDED)).
      type: str
    comment:
      description: The comment Pinot keeps with the pause status.
      type: str
    timestamp:
      description: When the pause flag was last set or cleared.
      type: str
  sample: {"table": "events", "paused": true, "consuming_segments": [], "reason_code": "ADMINISTRATIVE",
           "comment": "stream migration", "timestamp": "2026-12-02 17:01:02.345"}
changes:
  description: What the run did (or would do in check mode), of C(pause), C(resume) and C(force commit).
  returned: always
  type: list
  elements: str
  sample: ["pause"]
committed_segments:
  description: The consuming segments the pause or the force commit commits (would commit, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["events__0__3__20261202T1700Z"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["POST /tables/events/pauseConsumption?comment=stream migration"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.consumption import CONSUME_FROM, STATES, apply
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str", required=True),
        state=dict(type="str", choices=list(STATES)),
        consume_from=dict(type="str", choices=list(CONSUME_FROM)),
        comment=dict(type="str"),
        force_commit=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_operation(module, apply)


if __name__ == "__main__":
    main()
