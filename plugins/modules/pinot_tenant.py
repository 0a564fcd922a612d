#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_tenant
short_description: Create, resize or delete an Apache Pinot broker or server tenant
version_added: 1.0.0
description:
  - A Pinot tenant exists through the tags of its instances. This module reads the tenant first (Pinot's
    create call is not idempotent) and changes it only when it differs.
  - By count (O(instance_count)), Pinot picks untagged live instances. A default cluster tags every instance
    into C(DefaultTenant), so there is nothing untagged to pick; the module then fails before writing and says
    how many instances are needed and available.
  - By name (O(instances)), the named instances are tagged into the tenant and instances no longer named go
    back to the untagged pool. Server instances serve both OFFLINE and REALTIME tables of the tenant.
  - Deleting refuses clearly while tables use the tenant, and reports C(changed=false) when it does not exist.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: Tenant name. Required unless O(definitions) is given.
    type: str
  role:
    description: Broker or server tenant. Required with O(name).
    type: str
    choices: [BROKER, SERVER]
    aliases: [type]
  instance_count:
    description:
      - Number of instances in the tenant, taken from untagged live instances. Defaults to V(1).
      - Pinot can grow a server tenant but not shrink it; use O(instances) to choose which to keep.
    type: int
  offline_instances:
    description: SERVER only. How many of the instances serve OFFLINE tables. Defaults to O(instance_count).
    type: int
  realtime_instances:
    description: SERVER only. How many of the instances serve REALTIME tables. Defaults to O(instance_count).
    type: int
  instances:
    description:
      - Exact instance names (for example V(Server_pinot-server-hot-0_8098)) to place into the tenant.
        Mutually exclusive with the counts.
    type: list
    elements: str
  definitions:
    description:
      - Many tenants in one task, each with the options of a single tenant. Every tenant is read (concurrently)
        and validated before the first write, so a bad one stops the task with nothing written.
      - The writes follow the list's order, so an instance can move from one tenant to another in one task. Two
        tenants of a role naming the same instance are refused.
      - Tenants by count are each checked against the untagged instances as read before the first write; name
        the instances when several new tenants draw from the same pool.
      - Mutually exclusive with the single-tenant options.
      - The result's C(invocation) gives the number of definitions instead of echoing them back; C(results)
        has one entry per definition.
    type: list
    elements: dict
    suboptions:
      name:
        description: Tenant name.
        type: str
        required: true
      role:
        description: Broker or server tenant.
        type: str
        required: true
        choices: [BROKER, SERVER]
        aliases: [type]
      instance_count:
        description: As O(instance_count).
        type: int
      offline_instances:
        description: As O(offline_instances).
        type: int
      realtime_instances:
        description: As O(realtime_instances).
        type: int
      instances:
        description: As O(instances).
        type: list
        elements: str
      state:
        description: This tenant's state. Defaults to O(state).
        type: str
        choices: [present, absent]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
"""

EXAMPLES = r"""
- name: Server tenant "hot" on two named servers
  pinotops.k8s.pinot_tenant:
    controller_url: http://localhost:9000
    name: hot
    role: SERVER
    instances:
      - Server_pinot-server-hot-0_8098
      - Server_pinot-server-hot-1_8098

- name: Broker tenant of two untagged brokers
  pinotops.k8s.pinot_tenant:
    controller_url: http://localhost:9000
    name: analytics
    role: BROKER
    instance_count: 2

- name: Every tenant of the cluster in one task (read and validated before the first write)
  pinotops.k8s.pinot_tenant:
    controller_url: http://localhost:9000
    definitions:
      - name: hot
        role: SERVER
        instances: [Server_pinot-server-hot-0_8098, Server_pinot-server-hot-1_8098]
      - name: analytics
        role: BROKER
        instance_count: 2
      - name: retired
        role: SERVER
        state: absent

- name: Remove the tenant (refused while tables use it)
  pinotops.k8s.pinot_tenant:
    controller_url: http://localhost:9000
    name: analytics
    role: BROKER
    state: absent
"""

RETURN = r"""
tenant:
  description: The tenant after the run (name, role and instance lists); null when absent.
  returned: unless O(definitions) is given
  type: dict
changes:
  description: What changed in the tenant's normalised form (counts, instance names).
  returned: unless O(definitions) is given
  type: list
  elements: str
results:
  description: With O(definitions), one entry per tenant with its C(name), C(role), C(changed) and C(changes).
  returned: when O(definitions) is given
  type: list
  elements: dict
  sample: [{"name": "hot", "role": "SERVER", "changed": true, "changes": ["instanceNames", "numberOfInstances"]}]
executed_requests:
  description: Every write request sent to the controller. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["PUT /instances/Server_host_8098/updateTags?tags=hot_OFFLINE,hot_REALTIME"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import per_object_options, run_reconcile
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.tenant import build


def main():
    tenant_options = dict(
        name=dict(type="str"),
        role=dict(type="str", choices=["BROKER", "SERVER"], aliases=["type"]),
        instance_count=dict(type="int"),
        offline_instances=dict(type="int"),
        realtime_instances=dict(type="int"),
        instances=dict(type="list", elements="str"),
    )
    definition_options = dict(tenant_options, name=dict(type="str", required=True),
                              role=dict(tenant_options["role"], required=True),
                              state=dict(type="str", choices=["present", "absent"]))
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        **tenant_options,
        definitions=dict(type="list", elements="dict", options=definition_options),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("name", "definitions")], required_by={"name": "role"},
                           mutually_exclusive=[("definitions", option) for option in tenant_options])
    run_reconcile(module, build, bulk=per_object_options)


if __name__ == "__main__":
    main()
