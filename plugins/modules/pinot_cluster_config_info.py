#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_cluster_config_info
short_description: Read Apache Pinot cluster configs
version_added: 2.0.0
description:
  - Returns Pinot's cluster configs (the controller's C(/cluster/configs)), every one or the named ones, as the
    controller stores them (strings).
author:
  - pinotops maintainers (@pinotops)
options:
  names:
    description: Names of the configs to read. Without it, every cluster config is returned.
    type: list
    elements: str
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
  - pinotops.k8s.pinot.INFO
seealso:
  - module: pinotops.k8s.pinot_cluster_config
"""

EXAMPLES = r"""
- name: Every cluster config
  pinotops.k8s.pinot_cluster_config_info:
    controller_url: http://localhost:9000

- name: Is the broker case-insensitive?
  pinotops.k8s.pinot_cluster_config_info:
    controller_url: http://localhost:9000
    names: [enable.case.insensitive]
"""

RETURN = r"""
cluster_configs:
  description:
    - Name to stored value (a string), sorted by name. With O(names), only those that are set; a name that is not
      set is left out. Values under secret-looking names are masked.
  returned: always
  type: dict
  sample: {"allowParticipantAutoJoin": "true", "default.hyperloglog.log2m": "8", "enable.case.insensitive": "true",
           "pinot.broker.enable.query.limit.override": "true"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.cluster_config import read_info
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_info


def main():
    module = AnsibleModule(argument_spec=dict(PINOT_CONNECTION_ARGS, names=dict(type="list", elements="str")),
                           supports_check_mode=True)
    run_info(module, read_info)


if __name__ == "__main__":
    main()
