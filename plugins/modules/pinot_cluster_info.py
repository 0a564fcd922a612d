#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_cluster_info
short_description: Read the Kubernetes objects and rollout status of a Pinot cluster
version_added: 1.0.0
description:
  - Lists the objects that M(pinotops.k8s.pinot_cluster) created for a cluster (found by their labels) and the
    rollout status of each node group's StatefulSet, with its pods, their revision, readiness, node and zone.
  - Rollout completeness follows C(kubectl rollout status) (observedGeneration, ready and updated replicas,
    revisions; partition-aware).
author:
  - pinotops maintainers (@pinotops)
options:
  name:
    description:
      - The cluster name (C(cluster.name) of the description).
    type: str
    required: true
  namespace:
    description:
      - The namespace of the cluster.
    type: str
    required: true
  node_groups:
    description:
      - Report only these node groups.
    type: list
    elements: str
extends_documentation_fragment:
  - pinotops.k8s.k8s_auth.ACTION_GROUP
  - pinotops.k8s.pinot.INFO
  - pinotops.k8s.k8s_auth
"""

EXAMPLES = r"""
- name: Wait until every node group has finished rolling out
  pinotops.k8s.pinot_cluster_info:
    name: pinot
    namespace: analytics
  register: pinot_state
  until: pinot_state.all_rollouts_complete
  retries: 60
  delay: 10

- name: Pods of one group and their revisions
  pinotops.k8s.pinot_cluster_info:
    name: pinot
    namespace: analytics
    node_groups: [server-hot-a]
  register: hot_a
"""

RETURN = r"""
exists:
  description: Whether any object of the cluster exists.
  returned: always
  type: bool
groups:
  description:
    - Rollout status per node group, keyed by group name. Each holds C(statefulset), C(replicas), C(ready),
      C(updated), C(current_revision), C(update_revision), C(partition), C(generation), C(observed_generation),
      C(rollout_complete), C(message), C(image) and C(pods) (each with C(name), C(revision), C(ready), C(phase),
      C(waiting), C(node), C(zone)); C(waiting) says why a pod is not Ready, null when it is.
  returned: always
  type: dict
all_rollouts_complete:
  description: True when every reported group's rollout is complete.
  returned: always
  type: bool
all_pods_ready:
  description: True when every reported group has as many pods as its StatefulSet's replicas and all of them are
    Ready.
  returned: always
  type: bool
objects:
  description: The cluster's objects (StatefulSets, PodDisruptionBudgets, Services, ConfigMaps,
    PersistentVolumeClaims) with their node group and component.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "StatefulSet", "name": "pinot-server-hot-a", "node_group": "server-hot-a",
            "component": "server"}]
request_counts:
  description: Number of read requests of the run.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.module import run_cluster_info
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8S_AUTH_ARGS


def main():
    argument_spec = dict(
        K8S_AUTH_ARGS,
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        node_groups=dict(type="list", elements="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_cluster_info(module)


if __name__ == "__main__":
    main()
