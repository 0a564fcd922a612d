#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_cluster_config
short_description: Set or delete Apache Pinot cluster configs
version_added: 2.0.0
description:
  - Manages Pinot's cluster configs (the controller's C(/cluster/configs) API, the Helix cluster config), a flat map
    of name to string. Every Pinot component copies them into its own configuration when it starts, unless its own
    properties set the same name (C(pinot.all.<name>) becomes C(pinot.<role>.<name>)); a few are also read while
    it runs (for example C(enable.case.insensitive) by the brokers).
  - Only the keys named in the task are read, compared and written; every other key is left as it is.
  - Values are stored as strings. A boolean is compared and sent as V(true) or V(false), a number as Java writes
    it (V(8), V(0.5), V(1.0E7)), exactly what Pinot stores when it is sent a JSON number. Quote a value to
    store that exact text.
  - A second run with the same O(configs) sends nothing.
author:
  - pinotops maintainers (@pinotops)
options:
  configs:
    description:
      - Cluster config names and their values (strings, numbers or booleans; a list, mapping or null is refused
        before any request). With O(state=present), each named key is set where it is missing or differs.
      - With O(state=absent), the names of the keys to delete (their values are not looked at); or use O(names).
      - C(allowParticipantAutoJoin) (Helix's switch that lets new instances join) may only be V(true), since a
        Pinot pod joins the cluster when it starts. A name with C(/) is refused (Pinot's API could not delete it).
    type: dict
  names:
    description:
      - With O(state=absent), the names of the keys to delete. Keys that do not exist are skipped.
      - The keys Pinot writes into every cluster's config (C(default.hyperloglog.log2m), C(enable.case.insensitive),
        C(pinot.broker.enable.query.limit.override)) can be set with O(configs) but not deleted.
    type: list
    elements: str
  state:
    description:
      - V(present) sets the keys of O(configs) to their values; V(absent) deletes the named keys.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - pinotops.k8s.pinot.ACTION_GROUP
  - pinotops.k8s.pinot
attributes:
  check_mode:
    support: full
    description: Predicts C(changed) exactly from the live keys and writes nothing.
  diff_mode:
    support: full
    description: Shows the named keys before and after (values under secret-looking names masked).
notes:
  - Most cluster configs take effect when a component (re)starts; the module does not restart anything.
seealso:
  - module: pinotops.k8s.pinot_cluster_config_info
"""

EXAMPLES = r"""
- name: Throttle segment preprocessing on the servers (read by every server as a default for its own property)
  pinotops.k8s.pinot_cluster_config:
    controller_url: http://localhost:9000
    configs:
      pinot.server.max.segment.preprocess.parallelism: 4
      pinot.server.max.segment.startree.preprocess.parallelism: 2

- name: Remove them again (keys that are not set are skipped)
  pinotops.k8s.pinot_cluster_config:
    controller_url: http://localhost:9000
    names:
      - pinot.server.max.segment.preprocess.parallelism
      - pinot.server.max.segment.startree.preprocess.parallelism
    state: absent
"""

RETURN = r"""
cluster_configs:
  description:
    - The named keys after the run, name to stored string (predicted in check mode); null after O(state=absent).
      Values under secret-looking names are masked.
  returned: always
  type: dict
  sample: {"pinot.server.max.segment.preprocess.parallelism": "4"}
changes:
  description:
    - With O(state=present), the named keys set (or that would be set in check mode), a new one with C((added)).
    - With O(state=absent), C(. (deleted)) when one of the named keys was deleted; the diff and
      RV(executed_requests) name them.
  returned: always
  type: list
  elements: str
  sample: ["pinot.server.max.segment.preprocess.parallelism (added)"]
executed_requests:
  description: Every write request sent to the controller, as C(METHOD /path). Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/configs"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.cluster_config import build
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.module import run_reconcile


def main():
    argument_spec = dict(
        PINOT_CONNECTION_ARGS,
        configs=dict(type="dict"),
        names=dict(type="list", elements="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("configs", "names")], required_one_of=[("configs", "names")])
    run_reconcile(module, build)


if __name__ == "__main__":
    main()
