#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_user
short_description: Create, update or delete an Apache Pinot user
version_added: 2.0.0
description:
  - Manages the users Pinot keeps in ZooKeeper (the C(/users) API), which C(ZkBasicAuthAccessControlFactory)
    authenticates against. A user is a name and a component; the same name may exist for several components.
  - Pinot stores a bcrypt hash of the password. With O(update_password=always) the module checks the requested
    password against that hash and writes only when it does not match, so a second run with the same password
    writes nothing. Neither the password nor the hash appears in the result, the diff or the logs.
  - Every field is written as requested; a field left out is cleared (Pinot's update replaces the whole user).
author:
  - pinotops maintainers (@pinotops)
requirements:
  - bcrypt (on the host that runs the module, to compare a password with O(update_password=always))
options:
  name:
    description:
      - The user's name. Pinot refuses C(.) and spaces in it.
      - O(username) and O(password) are the credentials this module logs in to the controller with.
    type: str
    required: true
  component:
    description: The component the user logs in to (brokers for queries, the controller for its API and UI).
    type: str
    required: true
    choices: [CONTROLLER, BROKER, SERVER, MINION]
  user_password:
    description:
      - The user's password (not O(password), which logs this module in). Required to create the user.
    type: str
  update_password:
    description:
      - V(always) sets O(user_password) when it does not match the stored hash; V(on_create) sets it only when the
        user is created and never compares (no bcrypt needed).
    type: str
    choices: [always, on_create]
    default: always
  role:
    description: V(ADMIN) or V(USER).
    type: str
    choices: [USER, ADMIN]
    default: USER
  tables:
    description: Tables the user may access. Empty or left out means every table.
    type: list
    elements: str
  exclude_tables:
    description: Tables the user may not access.
    type: list
    elements: str
  permissions:
    description: What the user may do with those tables. Empty or left out means everything.
    type: list
    elements: str
    choices: [CREATE, READ, UPDATE, DELETE]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
"""

EXAMPLES = r"""
- name: A read-only query user for two tables
  pinotops.k8s.pinot_user:
    controller_url: http://localhost:9000
    name: analyst
    component: BROKER
    user_password: "{{ analyst_password }}"
    tables: [events, sessions]
    permissions: [READ]

- name: An admin of the controller whose password is set once and then left alone
  pinotops.k8s.pinot_user:
    controller_url: http://localhost:9000
    name: ops
    component: CONTROLLER
    role: ADMIN
    user_password: "{{ initial_ops_password }}"
    update_password: on_create

- name: Remove the user
  pinotops.k8s.pinot_user:
    controller_url: http://localhost:9000
    name: analyst
    component: BROKER
    state: absent
"""

RETURN = r"""
user:
  description: The user after the run (predicted in check mode), the password hash masked; null when absent.
  returned: always
  type: dict
  sample: {"username": "analyst", "component": "BROKER", "role": "USER", "tables": ["events"],
           "permissions": ["READ"], "password": "********"}
changes:
  description: Fields of the user that changed (or would change in check mode); C(password) when it is set anew.
  returned: always
  type: list
  elements: str
  sample: ["password", "permissions"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path?query). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["PUT /users/analyst?component=BROKER&passwordChanged=false"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_reconcile
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.user import COMPONENTS, PERMISSIONS, ROLES, build


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        name=dict(type="str", required=True),
        component=dict(type="str", required=True, choices=list(COMPONENTS)),
        user_password=dict(type="str", no_log=True),
        update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
        role=dict(type="str", choices=list(ROLES), default="USER"),
        tables=dict(type="list", elements="str"),
        exclude_tables=dict(type="list", elements="str"),
        permissions=dict(type="list", elements="str", choices=list(PERMISSIONS)),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_reconcile(module, build)


if __name__ == "__main__":
    main()
