#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_logical_table_info
short_description: Read Apache Pinot logical tables
version_added: 2.0.0
description:
  - Returns one logical table's config, or the config of every logical table (Pinot 1.4 and later; on an earlier
    version the module fails, naming it).
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: The logical table to read. Without it, every logical table is returned.
    type: str
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
"""

EXAMPLES = r"""
- name: The logical table orders
  pinotops.k8s.pinot_logical_table_info:
    controller_url: http://localhost:9000
    name: orders

- name: Every logical table
  pinotops.k8s.pinot_logical_table_info:
    controller_url: http://localhost:9000
"""

RETURN = r"""
logical_table:
  description: The logical table's config as Pinot returns it; null when it does not exist.
  returned: when O(name) is given
  type: dict
  sample: {"tableName": "orders", "brokerTenant": "DefaultTenant", "refOfflineTableName": "orders_eu_OFFLINE",
           "physicalTableConfigMap": {"orders_eu_OFFLINE": {"multiCluster": false},
                                      "orders_us_OFFLINE": {"multiCluster": false}}}
logical_tables:
  description: The config of every logical table, sorted by name.
  returned: when O(name) is not given
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.logical_table import read_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, name=dict(type="str")),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
