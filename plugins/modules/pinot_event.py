#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_event
short_description: Record a Kubernetes Event on an object of a Pinot cluster
version_added: 1.1.0
description:
  - Records one Event (source C(pinotops.k8s)) on a StatefulSet or pod, as C(kubectl get events) and
    C(kubectl describe) show them. The upgrade role records why it stopped (reason C(UpgradeStopped)) on the
    node group's StatefulSet and on the pod concerned.
  - An Event reports, it changes nothing that pinotops manages, so the task is never C(changed). When the object
    does not exist, or the Event cannot be recorded (no right to create C(events)), the task warns and succeeds.
  - Never put a secret in O(message).
author:
  - pinotops maintainers (@pinotops)
options:
  namespace:
    description: Namespace of the object.
    type: str
    required: true
  kind:
    description: Kind of the object.
    type: str
    choices: [StatefulSet, Pod]
    required: true
  name:
    description: Name of the object.
    type: str
    required: true
  reason:
    description: Short, CamelCase reason, for example V(UpgradeStopped).
    type: str
    required: true
  message:
    description: What happened, in one sentence or a few (the first 1024 characters are kept).
    type: str
    required: true
  type:
    description: Kubernetes Event type.
    type: str
    choices: [Normal, Warning]
    default: Normal
extends_documentation_fragment:
  - pinotops.k8s.k8s_auth.ACTION_GROUP
  - pinotops.k8s.k8s_auth
attributes:
  check_mode:
    support: full
    description: Nothing is recorded in check mode.
  diff_mode:
    support: none
    description: An Event is not a change of managed state; there is nothing to diff.
"""

EXAMPLES = r"""
- name: Say on the StatefulSet why the upgrade stopped
  pinotops.k8s.pinot_event:
    namespace: analytics
    kind: StatefulSet
    name: pinot-server-hot-a
    reason: UpgradeStopped
    type: Warning
    message: "gate 'server segments' failed for pinot-server-hot-a-1: 2 segment(s) not as in the ideal state"
"""

RETURN = r"""
recorded:
  description: Whether the Event was recorded.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster_apply import run_event
from ansible_collections.pinotops.k8s.plugins.module_utils.k8s_client import K8S_AUTH_ARGS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            K8S_AUTH_ARGS,
            namespace=dict(type="str", required=True),
            kind=dict(type="str", required=True, choices=["StatefulSet", "Pod"]),
            name=dict(type="str", required=True),
            reason=dict(type="str", required=True),
            message=dict(type="str", required=True),
            type=dict(type="str", choices=["Normal", "Warning"], default="Normal"),
        ),
        supports_check_mode=True,
    )
    run_event(module)


if __name__ == "__main__":
    main()
