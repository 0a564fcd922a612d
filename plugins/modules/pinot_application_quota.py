#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_application_quota
short_description: Set or remove the query quota of an Apache Pinot application
version_added: 2.0.0
description:
  - An application is what a query names in its C(applicationName) query option (for example
    C(SET applicationName='dashboards'; SELECT ...)). Its quota limits the queries per second the brokers accept
    from it, over every table. Needs Pinot 1.3 or later.
  - An application without a quota of its own gets the cluster-wide default (the cluster config
    C(applicationMaxQueriesPerSecond); none when it is not set). A quota set here stays as set when that default
    changes.
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description: The application's name, as queries give it. Required unless O(definitions) is given.
    type: str
  max_queries_per_second:
    description:
      - The application's query quota in queries per second, a number greater than 0. Required with
        O(state=present).
    type: raw
  definitions:
    description:
      - Many applications in one task, each with the options of a single one. Every quota is read and validated
        before the first write, so a bad one stops the task with nothing written.
      - Mutually exclusive with the single-application options.
    type: list
    elements: dict
    suboptions:
      name:
        description: The application's name.
        type: str
        required: true
      max_queries_per_second:
        description: As O(max_queries_per_second).
        type: raw
      state:
        description: This quota's state. Defaults to O(state).
        type: str
        choices: [present, absent]
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.STATE
"""

EXAMPLES = r"""
- name: The dashboards may send 25 queries per second
  pinotops.k8s.pinot_application_quota:
    controller_url: http://localhost:9000
    name: dashboards
    max_queries_per_second: 25

- name: Every application quota in one task
  pinotops.k8s.pinot_application_quota:
    controller_url: http://localhost:9000
    definitions:
      - name: dashboards
        max_queries_per_second: 25
      - name: batch-reports
        max_queries_per_second: 2.5
      - name: legacy-app
        state: absent

- name: The dashboards fall back to the cluster-wide default
  pinotops.k8s.pinot_application_quota:
    controller_url: http://localhost:9000
    name: dashboards
    state: absent
"""

RETURN = r"""
application_quota:
  description: The application's quota after the run (predicted in check mode); null when it has none.
  returned: unless O(definitions) is given
  type: dict
  sample: {"applicationName": "dashboards", "maxQueriesPerSecond": 25.0}
changes:
  description: What changed (or would change in check mode).
  returned: unless O(definitions) is given
  type: list
  elements: str
  sample: ["maxQueriesPerSecond"]
results:
  description: With O(definitions), one entry per application with its C(name), C(changed) and C(changes).
  returned: when O(definitions) is given
  type: list
  elements: dict
executed_requests:
  description: Every write request sent to the controller. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["POST /applicationQuotas/dashboards?maxQueriesPerSecond=25"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import per_object_options, run_reconcile
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.quota import build_application


def main():
    quota_options = dict(name=dict(type="str"), max_queries_per_second=dict(type="raw"))
    definition_options = dict(quota_options, name=dict(type="str", required=True),
                              state=dict(type="str", choices=["present", "absent"]))
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        **quota_options,
        definitions=dict(type="list", elements="dict", options=definition_options),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("name", "definitions")],
                           mutually_exclusive=[("definitions", option) for option in quota_options])
    run_reconcile(module, build_application, bulk=per_object_options)


if __name__ == "__main__":
    main()
