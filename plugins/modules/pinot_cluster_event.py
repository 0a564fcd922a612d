#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_cluster_event
short_description: Record a Kubernetes Event on pods or StatefulSets of a Pinot cluster
version_added: 2.0.0
description:
  - Records one Event (source C(pinotops.k8s)) on each named object, in the style of Kubernetes' own
    controllers, so that C(kubectl get events) and C(kubectl describe) show what an automation decided about it.
    The C(pinotops.k8s.pinot_upgrade) role uses it to leave, on the pod or StatefulSet concerned, the gate that
    stopped an upgrade.
  - M(pinotops.k8s.pinot_cluster) records the Events of the objects it writes itself
    (O(pinotops.k8s.pinot_cluster#module:events)).
  - An object that does not exist (any more) still gets its Event, without a uid.
author:
  - pinotops maintainers (@pinotops)
options:
  namespace:
    description:
      - The namespace of the objects.
    type: str
    required: true
  kind:
    description:
      - The kind of the objects.
    type: str
    choices: [Pod, StatefulSet]
    required: true
  names:
    description:
      - Names of the objects; one Event each.
    type: list
    elements: str
    required: true
  reason:
    description:
      - Short UpperCamelCase reason, as Kubernetes uses them, for example V(UpgradeStopped).
    type: str
    required: true
  note:
    description:
      - What happened, in one line; the Event's C(message) (C(note) in C(events.k8s.io/v1); Ansible reserves
        C(message)). Longer notes are cut at 1024 characters. Never put a secret here.
    type: str
    required: true
  type:
    description:
      - V(Warning) for what needs attention, V(Normal) otherwise.
    type: str
    choices: [Normal, Warning]
    default: Normal
extends_documentation_fragment:
  - pinotops.k8s.k8s_auth.ACTION_GROUP
  - pinotops.k8s.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports the Events it would record and records none.
  diff_mode:
    support: none
    description: An Event is a record, not a state to diff.
"""

EXAMPLES = r"""
- name: Say on the pod why the upgrade stopped there
  pinotops.k8s.pinot_cluster_event:
    namespace: analytics
    kind: Pod
    names: [pinot-server-hot-a-1]
    reason: UpgradeStopped
    note: "Pinot gate server segments_converged: 2 segments not ONLINE after 300 s"
    type: Warning
"""

RETURN = r"""
events:
  description: The Events recorded (would be, in check mode), each with C(kind), C(name), C(reason), C(message)
    and C(type).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "Pod", "name": "pinot-server-hot-a-1", "reason": "UpgradeStopped", "type": "Warning",
            "message": "Pinot gate server segments_converged: 2 segments not ONLINE after 300 s"}]
request_counts:
  description: Number of read requests and Events recorded.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.module import run_cluster_event
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8S_AUTH_ARGS


def main():
    argument_spec = dict(
        K8S_AUTH_ARGS,
        namespace=dict(type="str", required=True),
        kind=dict(type="str", choices=["Pod", "StatefulSet"], required=True),
        names=dict(type="list", elements="str", required=True),
        reason=dict(type="str", required=True),
        note=dict(type="str", required=True),
        type=dict(type="str", choices=["Normal", "Warning"], default="Normal"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_cluster_event(module)


if __name__ == "__main__":
    main()
