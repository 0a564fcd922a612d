#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_tenant_info
short_description: Read Apache Pinot tenants
version_added: 1.0.0
description:
  - Returns one tenant with its instances, or the names of every broker and server tenant.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: Tenant to read (needs O(role)). Without it, every tenant name is returned.
    type: str
  role:
    description: Broker or server tenant.
    type: str
    choices: [BROKER, SERVER]
    aliases: [type]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
"""

EXAMPLES = r"""
- name: Instances of the server tenant "hot"
  pinotops.k8s.pinot_tenant_info:
    controller_url: http://localhost:9000
    name: hot
    role: SERVER

- name: Every tenant
  pinotops.k8s.pinot_tenant_info:
    controller_url: http://localhost:9000
"""

RETURN = r"""
tenant:
  description: Name, role and instances of the tenant; null when it does not exist.
  returned: when O(name) is given
  type: dict
tenants:
  description: Names of every tenant, under C(BROKER) and C(SERVER).
  returned: when O(name) is not given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.tenant import read_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, name=dict(type="str"),
                                              role=dict(type="str", choices=["BROKER", "SERVER"], aliases=["type"])),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
