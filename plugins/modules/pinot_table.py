#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_table
short_description: Create, update or delete an Apache Pinot table (OFFLINE or REALTIME)
version_added: 1.0.0
description:
  - Makes one table type (OFFLINE or REALTIME) of a Pinot table match a config, writing only when the live
    config differs. A hybrid table is two tasks, one per O(table_type).
  - The comparison folds away what Pinot adds on save (type suffix, default tenants, stringified numbers,
    default-valued index and ingestion settings), so a second run sends no write. Keys removed from the
    definition are removed from the live table.
  - When the live config still differs, the controller decides. The config goes through its
    C(/tables/validate), which returns it as Pinot would store it (for example C(indexType) beside
    C(indexTypes), stream settings as strings, enum defaults filled in), and a write happens only when that
    differs from the live config. A dimension table keeps the storage quota the controller gave it at creation.
  - Keys Pinot would silently drop are refused and named. C(segmentsConfig.schemaName), which Pinot 1.x ignores
    but older configs carry, is left out of the comparison with a warning. A new table needs its schema and its
    tenants to exist.
  - Segments are kept where the config says they live (O(rebalance.when=auto), the default). A change to a field
    that decides it (C(segmentsConfig.replication), C(replicasPerPartition), the server tenant or its tag
    overrides, C(instanceAssignmentConfigMap), C(instancePartitionsMap), C(segmentAssignmentConfigMap),
    C(tierConfigs)) is followed by Pinot's rebalance without downtime, and so is a table whose ideal state has a
    segment with fewer replicas than described, or a replica on a server outside the table's tenant (reported
    under C(served) in C(changes) and the diff; in check mode reported, not fixed). A dry run goes first, and a
    balanced table gets no write.
  - O(zone_aware) gives the table one replica group per zone (Pinot pool). A replicated table that is not, on
    servers in two or more pools, gets a warning that its replicas could share a zone.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description:
      - Raw table name (without C(_OFFLINE)/C(_REALTIME)). Defaults to C(tableName) of the definition.
    type: str
  table_type:
    description:
      - Which physical table to manage. Defaults to C(tableType) of the definition.
      - Required with O(state=absent) when no definition is given.
    type: str
    choices: [OFFLINE, REALTIME]
  table:
    description:
      - The table config as Pinot's JSON object. Numbers may be given for string fields such as
        C(segmentsConfig.replication). Mutually exclusive with O(src).
    type: dict
    aliases: [definition]
  definitions:
    description:
      - Many table configs in one task, each a dict like O(table). Every definition is read (concurrently) and
        validated before the first write, so a bad one stops the task with nothing written.
      - The fast path for scheduled reconciles of many objects. Mutually exclusive with O(name), O(table) and O(src).
      - The two halves of a hybrid table (an OFFLINE and a REALTIME config of one name) may be given together; a
        name and type given twice is refused.
      - The result's C(invocation) gives the number of definitions instead of echoing them back; C(results)
        has one entry per definition.
    type: list
    elements: dict
  src:
    description:
      - Path to a JSON or YAML file holding the table config. Mutually exclusive with O(table).
      - A relative path is looked up on the controller the way M(ansible.builtin.copy) finds its
        O(ansible.builtin.copy#module:src) when the module runs on a local connection (also when delegated to
        C(localhost)) - the role's C(files/) directory, then the playbook directory's C(files/) and the playbook
        directory. On any other connection the path is read on the host where the module runs. An absolute
        path, or one starting with C(~), is used as given.
    type: path
  force:
    description:
      - Pinot 1.5+ only. Allow changes to upsert and dedup settings that Pinot otherwise refuses.
    type: bool
    default: false
  rebalance:
    description:
      - When and how the table is rebalanced, without downtime unless told. A dry run goes first; the result is
        returned under RV(rebalance). A new table has no segments and is not rebalanced.
    type: dict
    suboptions:
      when:
        description:
          - V(auto) rebalances after a change of a field that decides where segments live, and when the ideal
            state departs from the config (a segment with fewer replicas than described, a replica on a server
            outside the table's tenant or tiers). This reads each live table's ideal state, one more GET per
            table on every run.
          - V(on_change) rebalances only after such a change, and reads no ideal state.
          - V(never) leaves the segments where they are.
        type: str
        choices: [auto, on_change, never]
        default: auto
      downtime:
        description: Allow all replicas of a segment to move at once (faster, queries may fail meanwhile).
        type: bool
        default: false
      min_available_replicas:
        description: Replicas of every segment that stay serving during a no-downtime rebalance.
        type: int
        default: 1
      include_consuming:
        description: Also move consuming segments of a REALTIME table.
        type: bool
        default: true
      reassign_instances:
        description:
          - Recompute the instance assignment from the table's tenants and instance config.
          - Defaults to true when the server tenant, its tag overrides, the instance or segment assignment or
            the tiers changed, or a replica sits outside the tenant; false otherwise.
        type: bool
      wait:
        description: Wait until the rebalance job ends.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for the rebalance job.
        type: int
        default: 600
  zone_aware:
    description:
      - One replica group per zone, a zone being a Pinot pool (the servers' C(pool) for the table's tag). Fills
        C(instanceAssignmentConfigMap) with a pool-based, replica-group based entry for C(OFFLINE) (an OFFLINE
        table) or C(CONSUMING) (a REALTIME table; also C(COMPLETED) when
        C(tenants.tagOverrideConfig.realtimeCompleted) moves completed segments to other servers), with as many
        pools and replica groups as the table's replication. Each replica group uses all servers of its pool.
      - An entry written in the definition, or instance partitions given in C(instancePartitionsMap), win; only
        the missing types are filled.
      - Applies to every table of the task. Refused, before anything is written, when the tag's servers are in
        fewer pools than the replication.
    type: bool
    default: false
  zone_aware_tenants:
    description:
      - Server tenants whose tables are zone-aware as with O(zone_aware); for a bulk task (O(definitions)) that
        mixes tenants.
    type: list
    elements: str
    default: []
  delete_retention:
    description:
      - With O(state=absent), how long Pinot keeps the deleted segments, for example V(0d) (delete now) or V(7d).
        Defaults to the cluster setting.
    type: str
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
"""

EXAMPLES = r"""
- name: OFFLINE events table
  pinotops.k8s.pinot_table:
    controller_url: http://localhost:9000
    table:
      tableName: events
      tableType: OFFLINE
      segmentsConfig:
        timeColumnName: ts
        replication: 1
        retentionTimeUnit: DAYS
        retentionTimeValue: 30
      tenants: {}
      tableIndexConfig:
        invertedIndexColumns: [country]

- name: Change replication and rebalance without downtime
  pinotops.k8s.pinot_table:
    controller_url: http://localhost:9000
    src: files/events-offline.json
    rebalance:
      min_available_replicas: 1

- name: Drop the REALTIME half of a hybrid table, deleting its segments now
  pinotops.k8s.pinot_table:
    controller_url: http://localhost:9000
    name: events
    table_type: REALTIME
    state: absent
    delete_retention: 0d
"""

RETURN = r"""
table:
  description: The table config as Pinot stores it after the run (predicted in check mode); null when absent.
  returned: unless O(definitions) is given
  type: dict
changes:
  description:
    - Dotted paths of the normalised config that changed (or would change in check mode), then the served
      placement that was (or would be) fixed, as C(served.segments_below_replication) and
      C(served.instances_outside_tenant).
  returned: unless O(definitions) is given
  type: list
  elements: str
  sample: ["segmentsConfig.replication", "served.segments_below_replication"]
results:
  description: With O(definitions), one entry per definition with its C(name), C(table_type), C(changed) and
    C(changes).
  returned: when O(definitions) is given
  type: list
  elements: dict
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["PUT /tables/events"]
rebalance:
  description:
    - Dry-run summary, status (V(NO_OP), V(DONE), V(would rebalance) in check mode) and job id of the rebalance
      that followed a placement change or drift (see O(rebalance.when)).
  returned: when a rebalance was due, unless O(definitions) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import fills, run_reconcile
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.rebalance import parameter_spec
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table import build


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str"),
        table_type=dict(type="str", choices=["OFFLINE", "REALTIME"]),
        table=dict(type="dict", aliases=["definition"]),
        definitions=dict(type="list", elements="dict"),
        src=dict(type="path"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
        rebalance=dict(type="dict", apply_defaults=True, options=dict(
            parameter_spec("downtime", "min_available_replicas", "include_consuming"),
            when=dict(type="str", choices=["auto", "on_change", "never"], default="auto"),
            reassign_instances=dict(type="bool"),
            wait=dict(type="bool", default=True),
            timeout=dict(type="int", default=600),
        )),
        zone_aware=dict(type="bool", default=False),
        zone_aware_tenants=dict(type="list", elements="str", default=[]),
        delete_retention=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("table", "src", "definitions"), ("name", "definitions")])
    run_reconcile(module, build, bulk=fills("table"))


if __name__ == "__main__":
    main()
