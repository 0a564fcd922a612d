#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_table_rebalance
short_description: Rebalance an Apache Pinot table, dry run and pre-checks first, and follow the job to its end
version_added: 2.0.0
description:
  - For each type of the table, asks the controller for a dry run with its pre-checks. A balanced type (V(NO_OP))
    gets no write, so a rerun changes nothing. Otherwise the rebalance is started and its job followed until it
    ends; a job still running at O(wait_timeout) is cancelled.
  - Every rebalance parameter is sent with the value below unless the task sets it, because Pinot 1.4 changed
    the defaults of several (C(reassignInstances), C(includeConsuming), C(minAvailableReplicas)); the same task
    means the same on every version. Versions before 1.4 or 1.5 ignore the parameters they do not know.
  - A pre-check that fails (V(ERROR)) stops the task before anything moves, unless O(accept_pre_check_errors);
    a V(WARN) becomes a warning.
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
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.rebalance
attributes:
  check_mode:
    support: full
    description: Runs the dry run and its pre-checks and reports what would move; writes nothing.
  diff_mode:
    support: full
    description: Shows the segments to move per table type before and after.
"""

EXAMPLES = r"""
- name: Spread events over the servers of its tenant, two replicas always serving
  pinotops.k8s.pinot_table_rebalance:
    controller_url: http://localhost:9000
    name: events
    min_available_replicas: 2

- name: What would a rebalance of the REALTIME half move? (dry run and pre-checks, writes nothing)
  pinotops.k8s.pinot_table_rebalance:
    controller_url: http://localhost:9000
    name: events
    table_type: REALTIME
  check_mode: true
"""

RETURN = r"""
rebalances:
  description: One entry per table type.
  returned: always
  type: list
  elements: dict
  contains:
    table_type:
      description: V(OFFLINE) or V(REALTIME).
      type: str
    status:
      description: V(NO_OP) (balanced, nothing sent), V(would rebalance) (check mode), V(IN_PROGRESS)
        (O(wait=false)), or how the job ended (V(DONE)).
      type: str
    job_id:
      description: The rebalance job, or null when none was started.
      type: str
    dry_run:
      description: The dry run's C(status), C(description), C(segments_to_move) and C(servers_getting_segments).
      type: dict
    pre_checks:
      description: Each pre-check's verdict (V(PASS), V(WARN), V(ERROR)), on versions that run them.
      type: dict
      returned: when the controller ran pre-checks
  sample: [{"table_type": "OFFLINE", "status": "DONE", "job_id": "0a4f...",
            "dry_run": {"status": "DONE", "segments_to_move": 4, "servers_getting_segments": ["Server_b_8098"]},
            "pre_checks": {"diskUtilizationDuringRebalance": "PASS", "needsReloadStatus": "PASS"}}]
changes:
  description: The rebalances done (or that would be done, in check mode), as C(rebalance <type>).
  returned: always
  type: list
  elements: str
  sample: ["rebalance OFFLINE"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing moved.
  returned: always
  type: list
  elements: str
  sample: ["POST /tables/events/rebalance?downtime=false&minAvailableReplicas=2&...&type=OFFLINE&dryRun=false"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.facts import TABLE_TYPES
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.rebalance import apply, argument_spec


def main():
    spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str", required=True),
        table_type=dict(type="str", choices=list(TABLE_TYPES)),
        **argument_spec(),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_operation(module, apply)


if __name__ == "__main__":
    main()
