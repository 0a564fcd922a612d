#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_tenant_rebalance
short_description: Rebalance the tables of an Apache Pinot server tenant in one job, dry run and pre-checks first
version_added: 2.0.0
description:
  - Asks the controller for a dry run of every table of the server tenant (or of those O(include_tables) names,
    less O(exclude_tables)), with the pre-checks aggregated. When every table is balanced (V(NO_OP)) nothing is
    written, so a rerun changes nothing. Otherwise one tenant rebalance job is started; the controller rebalances
    the tables O(degree_of_parallelism) at a time, and the task follows the job until every table is processed.
  - The controller orders the tables itself (a dimension table that only gains servers goes first, one that only
    loses servers last) and runs a table with one replica with C(minAvailableReplicas=0).
  - Every rebalance parameter is sent with the value below unless the task sets it, as for
    M(pinotops.k8s.pinot_table_rebalance). A pre-check that fails for any table stops the task before anything
    moves, unless O(accept_pre_check_errors).
  - A job still running at O(wait_timeout) fails the task; it is cancelled where Pinot can (1.5+).
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: The server tenant (for example V(DefaultTenant)).
    type: str
    required: true
  include_tables:
    description:
      - Only these tables of the tenant, named with their type (V(events_OFFLINE)). Left out, every table.
      - A name that is not a table of the tenant is an error.
    type: list
    elements: str
    default: []
  exclude_tables:
    description: Tables of the tenant to leave as they are, named with their type (V(events_REALTIME)).
    type: list
    elements: str
    default: []
  degree_of_parallelism:
    description: Tables rebalanced at the same time.
    type: int
    default: 1
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.rebalance
attributes:
  check_mode:
    support: full
    description: Runs the tenant's dry run and its pre-checks and reports the tables that would be rebalanced.
  diff_mode:
    support: full
    description: Shows the segments to move and the tables to rebalance, before and after.
"""

EXAMPLES = r"""
- name: Spread the OFFLINE half of events over the servers of DefaultTenant
  pinotops.k8s.pinot_tenant_rebalance:
    controller_url: http://localhost:9000
    name: DefaultTenant
    include_tables: [events_OFFLINE]

- name: What would rebalancing every table of the tenant but events_REALTIME move? (writes nothing)
  pinotops.k8s.pinot_tenant_rebalance:
    controller_url: http://localhost:9000
    name: DefaultTenant
    exclude_tables: [events_REALTIME]
    degree_of_parallelism: 2
  check_mode: true
"""

RETURN = r"""
rebalances:
  description: One entry per table of the tenant that the rebalance covers.
  returned: always
  type: list
  elements: dict
  contains:
    table:
      description: The table, with its type.
      type: str
    status:
      description: V(NO_OP) (balanced), V(would rebalance) (check mode), V(IN_PROGRESS) (O(wait=false)) or
        V(DONE).
      type: str
    description:
      description: What the controller's dry run said of the table.
      type: str
  sample: [{"table": "events_OFFLINE", "status": "DONE", "description": "Dry-run mode"}]
job_id:
  description: The tenant rebalance job, or null when none was started.
  returned: always
  type: str
dry_run:
  description: The dry run over the tenant's tables, aggregated by the controller.
  returned: always
  type: dict
  contains:
    segments_to_move:
      description: Segment replicas the rebalance moves, over every table.
      type: int
    servers_getting_segments:
      description: The servers that receive segments.
      type: list
      elements: str
    status_summary:
      description: Tables per dry-run status (V(DONE) means a table to rebalance).
      type: dict
  sample: {"segments_to_move": 4, "servers_getting_segments": ["Server_b_8098"], "status_summary": {"DONE": 1}}
changes:
  description: The tables rebalanced (or that would be, in check mode), as C(rebalance <table>).
  returned: always
  type: list
  elements: str
  sample: ["rebalance events_OFFLINE"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when all is balanced.
  returned: always
  type: list
  elements: str
  sample: ["POST /tenants/DefaultTenant/rebalance"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.rebalance import argument_spec, tenant_apply


def main():
    spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str", required=True),
        include_tables=dict(type="list", elements="str", default=[]),
        exclude_tables=dict(type="list", elements="str", default=[]),
        degree_of_parallelism=dict(type="int", default=1),
        **argument_spec(),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_operation(module, tenant_apply)


if __name__ == "__main__":
    main()
