#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_logical_table
short_description: Create, update or delete an Apache Pinot logical table
version_added: 2.0.0
description:
  - Manages a logical table (Pinot 1.4 and later, the C(/logicalTables) API), one table name that the broker
    answers from several physical tables, e.g. one OFFLINE table per region or per year. C(SELECT COUNT(*) FROM
    <logical table>) counts the rows of all of them.
  - Pinot needs a schema named like the logical table (create it with M(pinotops.k8s.pinot_schema) first) and
    refuses a name that a physical table has. The physical tables must exist; each is named with its type,
    C(<table>_OFFLINE) or C(<table>_REALTIME).
  - Everything Pinot would refuse is checked before the first write and reported naming the option (the schema,
    the physical tables, the broker tenant, the reference tables, a storage quota, the time boundary of a logical
    table with both OFFLINE and REALTIME tables). The O(query) and O(quota) sections are compared in the form the
    controller stores them, as it says through its table validation.
  - Pinot does not compare the schemas. When the logical table's schema has a column that a physical table's
    schema lacks or types differently, the module warns (queries that use the column fail on that table).
  - Give the config either as the module's options (O(physical_tables) and the others) or whole as
    O(definition) or O(src); a field left out is cleared (Pinot's update replaces the whole config).
  - On a Pinot version without logical tables the module fails, naming the version.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description:
      - The logical table's name. Pinot keeps names ending in C(_OFFLINE) or C(_REALTIME) for physical tables.
      - Defaults to C(tableName) of O(definition) or O(src).
    type: str
  physical_tables:
    description:
      - The physical tables the logical table answers from, each named with its type (C(events_eu_OFFLINE)).
      - Required with O(state=present) unless O(definition) or O(src) is given.
    type: list
    elements: str
  ref_offline_table:
    description:
      - The OFFLINE table (one of O(physical_tables)) whose table config Pinot uses for the queries of the
        logical table's OFFLINE part. Defaults to the first OFFLINE table of O(physical_tables).
    type: str
  ref_realtime_table:
    description:
      - The same for the REALTIME part. Defaults to the first REALTIME table of O(physical_tables).
    type: str
  broker_tenant:
    description: The broker tenant that answers the logical table's queries. Pinot's default is C(DefaultTenant).
    type: str
  time_boundary:
    description:
      - Where the OFFLINE tables end and the REALTIME tables begin, as Pinot's C(timeBoundaryConfig). Required when
        O(physical_tables) has both types.
      - 'For example C({"boundaryStrategy": "min", "parameters": {"includedTables": ["events_eu_OFFLINE"]}}): the
        earliest time boundary of the included tables applies.'

    type: dict
  query:
    description: The C(query) section of a table config (e.g. C(timeoutMs)), applied to the logical table's queries.
    type: dict
  quota:
    description:
      - The C(quota) section of a table config; only C(maxQueriesPerSecond), since Pinot refuses a C(storage)
        quota on a logical table.
    type: dict
  definition:
    description:
      - The whole logical table config as Pinot's JSON object (C(tableName), C(physicalTableConfigMap),
        C(refOfflineTableName), C(refRealtimeTableName), C(brokerTenant), C(timeBoundaryConfig), C(query),
        C(quota)). Mutually exclusive with O(src) and with the options above but O(name).
    type: dict
  src:
    description:
      - Path to a JSON or YAML file holding the config, as O(definition). A relative path is looked up on the
        controller as for M(pinotops.k8s.pinot_table) (the role's C(files/), then the playbook's).
    type: path
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
notes:
  - Deleting a logical table leaves its physical tables and its schema as they are. Pinot refuses to delete the
    schema while the logical table exists.
"""

EXAMPLES = r"""
- name: One table name over the orders of two regions
  pinotops.k8s.pinot_logical_table:
    controller_url: http://localhost:9000
    name: orders
    physical_tables: [orders_eu_OFFLINE, orders_us_OFFLINE]
    query:
      timeoutMs: 20000

- name: Remove the logical table (its physical tables stay)
  pinotops.k8s.pinot_logical_table:
    controller_url: http://localhost:9000
    name: orders
    state: absent
"""

RETURN = r"""
logical_table:
  description: The logical table config after the run (predicted in check mode); null when absent.
  returned: always
  type: dict
  sample: {"tableName": "orders", "brokerTenant": "DefaultTenant", "refOfflineTableName": "orders_eu_OFFLINE",
           "physicalTableConfigMap": {"orders_eu_OFFLINE": {"multiCluster": false},
                                      "orders_us_OFFLINE": {"multiCluster": false}},
           "query": {"timeoutMs": 20000}}
changes:
  description: Fields of the config that changed (or would change in check mode).
  returned: always
  type: list
  elements: str
  sample: ["physicalTableConfigMap.orders_us_OFFLINE (added)"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["PUT /logicalTables/orders"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.logical_table import build
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_reconcile


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str"),
        physical_tables=dict(type="list", elements="str"),
        ref_offline_table=dict(type="str"),
        ref_realtime_table=dict(type="str"),
        broker_tenant=dict(type="str"),
        time_boundary=dict(type="dict"),
        query=dict(type="dict"),
        quota=dict(type="dict"),
        definition=dict(type="dict"),
        src=dict(type="path"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("definition", "src")])
    run_reconcile(module, build)


if __name__ == "__main__":
    main()
