#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_user_info
short_description: Read Apache Pinot users
version_added: 2.0.0
description:
  - Returns one user, or every user Pinot keeps in ZooKeeper, without their password hashes.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: User to read (needs O(component)). Without it, every user is returned.
    type: str
  component:
    description: The user's component.
    type: str
    choices: [CONTROLLER, BROKER, SERVER, MINION]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
"""

EXAMPLES = r"""
- name: The broker user analyst
  pinotops.k8s.pinot_user_info:
    controller_url: http://localhost:9000
    name: analyst
    component: BROKER

- name: Every user
  pinotops.k8s.pinot_user_info:
    controller_url: http://localhost:9000
"""

RETURN = r"""
user:
  description: The user's name, component, role, tables and permissions; null when it does not exist.
  returned: when O(name) is given
  type: dict
users:
  description: Every user, sorted by name and component.
  returned: when O(name) is not given
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.user import COMPONENTS, read_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, name=dict(type="str"),
                                              component=dict(type="str", choices=list(COMPONENTS))),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
