#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_quota_info
short_description: Read Apache Pinot databases and their query quotas, and the applications' quotas
version_added: 2.0.0
description:
  - Returns the databases (each with its own query quota, tables and schemas), the applications' query quotas, and
    the cluster-wide defaults that apply where a database or an application has no quota of its own. Needs Pinot
    1.3 or later.
  - Pinot lists the databases that have tables; a database whose quota was set before it has tables is returned
    when O(database) names it.
author:
  - pinotops maintainers (@pinotops)
options:
  database:
    description: Return this database only (and no application unless O(application) is given too).
    type: str
  application:
    description: Return this application's quota only (and no database unless O(database) is given too).
    type: str
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
"""

EXAMPLES = r"""
- name: Every database and application quota
  pinotops.k8s.pinot_quota_info:
    controller_url: http://localhost:9000
  register: quotas

- name: The database sales
  pinotops.k8s.pinot_quota_info:
    controller_url: http://localhost:9000
    database: sales
"""

RETURN = r"""
databases:
  description:
    - The databases, sorted by name, each with C(databaseName), C(maxQueriesPerSecond) (its own quota; null when it
      has none or the quota equals the cluster-wide default), C(tables) and C(schemas).
  returned: always
  type: list
  elements: dict
  sample: [{"databaseName": "sales", "maxQueriesPerSecond": 200.0, "tables": ["sales.orders"],
            "schemas": ["sales.orders"]}]
applications:
  description: Application name to its quota in queries per second (null for an O(application) without one).
  returned: always
  type: dict
  sample: {"dashboards": 25.0}
defaults:
  description:
    - The cluster-wide defaults, C(databaseMaxQueriesPerSecond) and C(applicationMaxQueriesPerSecond); null when not
      set (then a database or application without a quota of its own is not limited).
  returned: always
  type: dict
  sample: {"databaseMaxQueriesPerSecond": null, "applicationMaxQueriesPerSecond": 100.0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.quota import read_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, database=dict(type="str"),
                                              application=dict(type="str")),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
