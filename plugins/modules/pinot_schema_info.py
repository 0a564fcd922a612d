#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_schema_info
short_description: Read Apache Pinot schemas
version_added: 1.0.0
description:
  - Returns one schema, or every schema of the cluster, exactly as the controller stores them.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: Schema to read. Without it, every schema is returned.
    type: str
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
"""

EXAMPLES = r"""
- name: Read the events schema
  pinotops.k8s.pinot_schema_info:
    controller_url: http://localhost:9000
    name: events
  register: events_schema

- name: Read every schema
  pinotops.k8s.pinot_schema_info:
    controller_url: http://localhost:9000
  register: all_schemas
"""

RETURN = r"""
schema:
  description: The schema named by O(name); null when it does not exist.
  returned: when O(name) is given
  type: dict
schemas:
  description: Every schema, by name.
  returned: when O(name) is not given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.schema import read_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, name=dict(type="str")),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
