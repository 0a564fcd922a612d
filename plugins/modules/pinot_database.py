#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_database
short_description: Set the query quota of an Apache Pinot database, or delete the database
version_added: 2.0.0
description:
  - A Pinot database is the prefix of its tables' names (V(sales.orders) is the table V(orders) of the database
    V(sales)); it exists while it has tables. Its query quota limits the queries per second the brokers accept for
    all its tables together, and can be set before the database has tables. Needs Pinot 1.3 or later.
  - With O(state=present), the database's own quota is set to O(max_queries_per_second); left out, the database has
    no quota of its own and the cluster-wide default applies (the cluster config C(databaseMaxQueriesPerSecond);
    none when it is not set).
  - A quota equal to that default is the same as none, as Pinot answers the default for a database without a quota;
    the module writes only when the limit would change.
  - With O(state=absent), the database's own quota is removed. A database that still has tables or schemas is
    refused (nothing is written) unless O(delete_tables=true), which deletes every table of the database with its
    schema, and the database's schemas that no table uses. Check mode and C(--diff) list what would be deleted.
  - Pinot keeps an empty quota record of a database whose quota was removed; it limits nothing.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description:
      - The database's name (no C(.)). Required unless O(definitions) is given.
    type: str
  max_queries_per_second:
    description:
      - The database's query quota in queries per second, a number greater than 0 (V(0.5) allows one query every
        two seconds). Shared by the brokers that serve the database's tables.
      - Left out with O(state=present), the database has no quota of its own.
    type: raw
  delete_tables:
    description:
      - With O(state=absent), delete every table of the database and its schema, and the database's other schemas.
        Without it, a database that still has tables or schemas is refused.
      - Refused for the V(default) database, which holds every table without a database prefix.
    type: bool
    default: false
  definitions:
    description:
      - Many databases in one task, each with the options of a single database. Every database is read
        (concurrently) and validated before the first write, so a bad one stops the task with nothing written.
      - Mutually exclusive with the single-database options.
    type: list
    elements: dict
    suboptions:
      name:
        description: The database's name.
        type: str
        required: true
      max_queries_per_second:
        description: As O(max_queries_per_second).
        type: raw
      delete_tables:
        description: As O(delete_tables).
        type: bool
      state:
        description: This database's state. Defaults to O(state).
        type: str
        choices: [present, absent]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
"""

EXAMPLES = r"""
- name: At most 200 queries per second for the tables of the database sales
  pinotops.k8s.pinot_database:
    controller_url: http://localhost:9000
    name: sales
    max_queries_per_second: 200

- name: Quotas of several databases in one task
  pinotops.k8s.pinot_database:
    controller_url: http://localhost:9000
    definitions:
      - name: sales
        max_queries_per_second: 200
      - name: marketing
        max_queries_per_second: 50
      - name: staging
        state: absent

- name: Delete the database staging with all its tables and schemas (run with --check --diff first to see them)
  pinotops.k8s.pinot_database:
    controller_url: http://localhost:9000
    name: staging
    state: absent
    delete_tables: true
"""

RETURN = r"""
database:
  description:
    - The database after the run (predicted in check mode); null when absent. C(maxQueriesPerSecond) is what Pinot
      answers for the database (its own quota, or the cluster-wide default when it has none).
    - With O(state=absent), before the delete, also its C(tables) and C(schemas).
  returned: unless O(definitions) is given
  type: dict
  sample: {"databaseName": "sales", "maxQueriesPerSecond": 200.0}
changes:
  description: What changed (or would change in check mode).
  returned: unless O(definitions) is given
  type: list
  elements: str
  sample: ["maxQueriesPerSecond"]
results:
  description: With O(definitions), one entry per database with its C(name), C(changed) and C(changes).
  returned: when O(definitions) is given
  type: list
  elements: dict
executed_requests:
  description: Every write request sent to the controller. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["POST /databases/sales/quotas?maxQueriesPerSecond=200"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import per_object_options, run_reconcile
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.quota import build_database


def main():
    database_options = dict(
        name=dict(type="str"),
        max_queries_per_second=dict(type="raw"),
        delete_tables=dict(type="bool"),
    )
    definition_options = dict(database_options, name=dict(type="str", required=True),
                              state=dict(type="str", choices=["present", "absent"]))
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=database_options["name"],
        max_queries_per_second=database_options["max_queries_per_second"],
        delete_tables=dict(type="bool", default=False),
        definitions=dict(type="list", elements="dict", options=definition_options),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("name", "definitions")],
                           mutually_exclusive=[("definitions", "name"), ("definitions", "max_queries_per_second")])
    run_reconcile(module, build_database, bulk=per_object_options)


if __name__ == "__main__":
    main()
