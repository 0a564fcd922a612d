#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_instance
short_description: Put Apache Pinot instances into service, drain them, or drop them from Helix
version_added: 2.0.0
description:
  - Scales a Pinot cluster in and out without losing a served segment. The steps of a scale-in are V(drained)
    (before the pod goes), then V(absent) (after it has gone); a scale-out is V(present) once the new pods run.
  - V(present) gives the instances exactly O(tags) (when set) and rebalances every table of the server tenants
    those tags name, so that new servers get their share. A balanced table gets no write.
  - V(drained) removes every tag (Pinot's tag validation first; it refuses when a tenant would be left with fewer
    servers than its tables' replication), then rebalances each table whose ideal state places segments on the
    instances, without downtime, and ends when no ideal state names them any more.
  - V(absent) waits (up to O(wait_timeout)) until the instances have stopped, asks Pinot's drop validation, and
    drops them. An instance that still holds segments is refused with Pinot's reason, and nothing is dropped.
  - Every run reads what the controller holds first, so a rerun after a failure goes on where it stopped, and a
    run with nothing to do writes nothing. Check mode predicts the tag changes and the segments that would move.
author:
  - pinotops maintainers (@pinotops)
options:
  instances:
    description:
      - Helix instance ids, such as
        V(Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098).
    type: list
    elements: str
    required: true
  state:
    description: V(present) in service, V(drained) holding no segment and no tag, V(absent) dropped from Helix.
    type: str
    choices: [present, drained, absent]
    default: present
  tags:
    description:
      - V(present) only. The exact tags the instances carry, such as V(DefaultTenant_OFFLINE) and
        V(DefaultTenant_REALTIME) for a server. Left out, the tags are not changed.
      - A broker's broker resource follows its new tags.
    type: list
    elements: str
  pool:
    description:
      - V(present) only, servers only. The Pinot instance pool of every tag of each instance (the C(pool) map
        of its Helix instance config), written before any rebalance, so that a zone-aware table (pool-based
        replica groups) places the instances' segments by it; the broker reads it too.
      - Pinot has no startup property for it. Given with O(tags), every new tag gets the pool. Left out, pools
        are not changed.
      - A pool that differs is rewritten with C(PUT /instances/{id}), every other field of the instance sent
        back as the controller holds it.
    type: int
    version_added: 2.0.0
  rebalance:
    description: V(present) only. Rebalance the tables of the instances' server tenants onto them.
    type: bool
    default: true
  min_available_replicas:
    description:
      - Replicas of each segment that stay served while segments move (Pinot's no-downtime rebalance).
      - Pinot needs it below a table's replication, so a table with fewer replicas is moved with one fewer (none
        for replication 1, with a warning).
    type: int
    default: 1
  wait_timeout:
    description: Seconds to wait for each rebalance, and for the instances to stop (V(absent)).
    type: int
    default: 600
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: full
    description: Predicts the tag and pool changes, the tables that would be rebalanced and the segments that
      would move.
  diff_mode:
    support: full
    description: Shows each instance (registered, live, tags, pools, segments) before and after.
"""

EXAMPLES = r"""
- name: Move every segment off the server that goes away
  pinotops.k8s.pinot_instance:
    controller_url: http://localhost:9000
    instances: [Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098]
    state: drained

- name: Drop it from Helix once its pod has gone
  pinotops.k8s.pinot_instance:
    controller_url: http://localhost:9000
    instances: [Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098]
    state: absent

- name: A new server joins the hot tenant and the hot tables spread onto it
  pinotops.k8s.pinot_instance:
    controller_url: http://localhost:9000
    instances: [Server_pinot-server-hot-2.pinot-server-hot-headless.pinot.svc.cluster.local_8098]
    tags: [hot_OFFLINE, hot_REALTIME]

- name: The servers of zone-b are Pinot pool 1 (zone-aware tables keep one replica group per pool)
  pinotops.k8s.pinot_instance:
    controller_url: http://localhost:9000
    instances:
      - Server_pinot-server-b-0.pinot-server-b-headless.pinot.svc.cluster.local_8098
      - Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098
    pool: 1
    rebalance: false
"""

RETURN = r"""
instances:
  description: Each instance after the run (as predicted, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: The instance id.
      type: str
    registered:
      description: Whether Helix knows the instance.
      type: bool
    live:
      description: Whether its process is connected.
      type: bool
    tags:
      description: Its tags.
      type: list
      elements: str
    pools:
      description: Its pool per tag (empty when none was written).
      type: dict
    segments:
      description: Segments the ideal states place on it; null with O(rebalance=false) and O(state=present),
        which read no table.
      type: int
  sample: [{"instance": "Server_host_8098", "registered": true, "live": true, "tags": [], "pools": {},
            "segments": 0}]
rebalances:
  description: One entry per table type rebalanced (or dry run), with C(table), C(table_type), C(status) and
    what the dry run said.
  returned: always
  type: list
  elements: dict
  sample: [{"table": "events", "table_type": "OFFLINE", "status": "DONE", "job_id": "5b0f..."}]
changes:
  description: What changed (or would, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["Server_host_8098 tags ['DefaultTenant_OFFLINE'] -> []", "rebalance events OFFLINE"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["PUT /instances/Server_host_8098/updateTags?tags=&updateBrokerResource=false"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.instance import STATES, apply
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_operation


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        instances=dict(type="list", elements="str", required=True),
        state=dict(type="str", choices=list(STATES), default="present"),
        tags=dict(type="list", elements="str"),
        pool=dict(type="int"),
        rebalance=dict(type="bool", default=True),
        min_available_replicas=dict(type="int", default=1),
        wait_timeout=dict(type="int", default=600),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_operation(module, apply)


if __name__ == "__main__":
    main()
