#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_table_info
short_description: Read Apache Pinot table configs
version_added: 1.0.0
description:
  - Returns the configs of one table (both types of a hybrid table), or of every table of the cluster,
    exactly as the controller stores them.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: Raw table name to read. Without it, every table is returned.
    type: str
  table_type:
    description: Only this table type.
    type: str
    choices: [OFFLINE, REALTIME]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
"""

EXAMPLES = r"""
- name: Read both halves of the hybrid events table
  pinotops.k8s.pinot_table_info:
    controller_url: http://localhost:9000
    name: events
  register: events

- name: Read every REALTIME table
  pinotops.k8s.pinot_table_info:
    controller_url: http://localhost:9000
    table_type: REALTIME
"""

RETURN = r"""
table:
  description: The table's configs by type (C(OFFLINE), C(REALTIME)); empty when the table does not exist.
  returned: when O(name) is given
  type: dict
tables:
  description: Every table's configs by type, by raw table name.
  returned: when O(name) is not given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.table import read_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, name=dict(type="str"),
                                              table_type=dict(type="str", choices=["OFFLINE", "REALTIME"])),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
