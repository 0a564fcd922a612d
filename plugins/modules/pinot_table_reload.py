#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_table_reload
short_description: Reload the segments of an Apache Pinot table when its servers say they need it
version_added: 2.0.0
description:
  - Asks the servers of each type of the table whether its segments need a reload (Pinot's C(needReload), true
    for a segment built before a column or an index was added to the schema or table config), reloads the types
    that do, and waits until the reload job has reloaded every segment. A table whose segments are current gets
    no request, so a rerun writes nothing.
  - In check mode, reports C(need_reload) per type and writes nothing.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: The table's raw name (a C(_OFFLINE) or C(_REALTIME) suffix is accepted).
    type: str
    required: true
  table_type:
    description: Only this type of a hybrid table. Left out, every type the table has.
    type: str
    choices: [OFFLINE, REALTIME]
  only_if_needed:
    description: Reload only the types whose servers report C(needReload). V(false) reloads every time.
    type: bool
    default: true
  force_download:
    description: Have the servers download the segments from the deep store again (OFFLINE tables only, as Pinot).
    type: bool
    default: false
  wait:
    description: Wait until every segment of the reload job is reloaded, then ask C(needReload) again.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each reload job. A timeout fails the task (with C(changed) true).
    type: int
    default: 300
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: full
    description: Reports C(need_reload) per table type and predicts C(changed); writes nothing.
  diff_mode:
    support: full
    description: Shows C(need_reload) per table type before and after.
"""

EXAMPLES = r"""
- name: Reload the events table where a schema change left segments behind
  pinotops.k8s.pinot_table_reload:
    controller_url: http://localhost:9000
    name: events

- name: Does any segment of events need a reload? (reports, writes nothing)
  pinotops.k8s.pinot_table_reload:
    controller_url: http://localhost:9000
    name: events
  check_mode: true
  register: events_reload
"""

RETURN = r"""
reloads:
  description: One entry per table type.
  returned: always
  type: list
  elements: dict
  contains:
    table_type:
      description: V(OFFLINE) or V(REALTIME).
      type: str
    need_reload:
      description: What the servers answered before the run.
      type: bool
    status:
      description: V(not needed), V(would reload) (check mode), V(started) (O(wait=false)), V(done), or
        V(no segments) (Pinot found nothing to reload).
      type: str
    job_id:
      description: The controller's reload job, or null when none was started.
      type: str
    segments:
      description: Segments the job covers.
      type: int
      returned: when the job was waited for
    reloaded_segments:
      description: Segments the servers report reloaded.
      type: int
      returned: when the job was waited for
    need_reload_after:
      description: What the servers answer after the job.
      type: bool
      returned: when the job was waited for
  sample: [{"table_type": "OFFLINE", "need_reload": true, "job_id": "8c1e0d5a-...", "status": "done",
            "segments": 4, "reloaded_segments": 4, "need_reload_after": false}]
changes:
  description: The reloads done (or that would be done, in check mode), as C(reload <type>).
  returned: always
  type: list
  elements: str
  sample: ["reload OFFLINE"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["POST /segments/events/reload?type=OFFLINE"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TABLE_TYPES
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reload import apply


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str", required=True),
        table_type=dict(type="str", choices=list(TABLE_TYPES)),
        only_if_needed=dict(type="bool", default=True),
        force_download=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_operation(module, apply)


if __name__ == "__main__":
    main()
