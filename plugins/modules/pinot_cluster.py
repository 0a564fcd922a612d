#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_cluster
short_description: Run a heterogeneous, multi-zone Apache Pinot cluster on Kubernetes
version_added: 1.0.0
description:
  - Renders one cluster description into Kubernetes objects and applies them with server-side apply under the
    field manager C(pinotops.k8s). Per node group a ConfigMap (the role's C(.conf)), a StatefulSet, a headless
    Service and a PodDisruptionBudget; per role a client Service spanning its groups; optionally a managed
    ZooKeeper ensemble.
  - Fields owned by other field managers (an HPA's replicas, an annotation added by another tool) survive; fields
    removed from the description are removed; drift in declared fields (a replica count or image edited by hand)
    is corrected and reported.
  - The whole description is validated before any write. Every object is first sent as a server-side dry run;
    C(changed) compares the live object with the apiserver's prediction, so a second run sends no write at all.
  - Immutable StatefulSet fields (selector, serviceName, podManagementPolicy, volumeClaimTemplates) are checked
    up front and refused with an explanation before anything is written.
  - Objects of node groups no longer described are pruned (found by their labels). PersistentVolumeClaims are kept
    unless O(delete_pvcs=true).
  - The complete reference of the description, with examples, is C(docs/cluster-description.md) in the collection.
author:
  - pinotops maintainers (@pinotops)
options:
  state:
    description:
      - V(present) creates or updates the cluster's objects; V(absent) deletes every object carrying the
        cluster's labels (PersistentVolumeClaims only with O(delete_pvcs=true)). Of O(cluster), only C(name) and
        C(namespace) are used then.
    type: str
    choices: [present, absent]
    default: present
  node_groups:
    description:
      - Act only on these node groups (names from C(cluster.node_groups)) and on the client Services of their
        roles. Nothing is pruned. The managed ZooKeeper is left alone unless the list names C(zookeeper).
      - The hook the rolling-upgrade role uses to move one group at a time.
    type: list
    elements: str
  partitions:
    description:
      - Hold the rollout of a node group's StatefulSet at a partition, as a mapping of group name to partition
        number. Pods with an ordinal at or above the partition are updated, the others keep their revision.
      - A group not listed gets partition 0 (the whole StatefulSet rolls).
    type: dict
  prune:
    description:
      - Delete objects this module created for node groups (or a managed ZooKeeper) no longer described.
        Only on full runs (without O(node_groups)).
    type: bool
    default: true
  delete_pvcs:
    description:
      - Also delete the PersistentVolumeClaims of pruned node groups, or of the whole cluster with O(state=absent).
        Data on them is lost.
    type: bool
    default: false
  wait:
    description:
      - Wait for the rollout of each role's StatefulSets (in deployment order) before applying the next role,
        with the logic of C(kubectl rollout status) (observedGeneration, ready and updated replicas, revisions;
        partition-aware). Groups that did not change are waited for as well.
      - Like C(kubectl rollout status) it watches the StatefulSets, so a pod that becomes Ready is seen at once;
        without the C(watch) right on StatefulSets it polls every second.
      - On timeout the task fails and reports, per group, what is still pending.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait in total for O(wait).
    type: int
    default: 600
  instance_map:
    description:
      - The Pinot instance each pod's gate checks, for RV(gate_targets), by pod name, node group or role (in that
        order), each a mapping with C(instance) (the Helix instance id) and optionally C(health_url) (the
        component's own URL). Default the instance id the pod registers under, from the description.
      - The same mapping as O(pinotops.k8s.pinot_cluster_rollout#module:instance_map), checked the same way before
        any request.
    type: dict
    default: {}
    version_added: 2.0.0
  events:
    description:
      - Record a Kubernetes Event (source C(pinotops.k8s)) on every object the run writes (reason C(Created),
        C(Updated) with the changed fields, never their values, or C(Deleted)) and, with O(wait), on every pod its
        rollout replaced (C(Rolled)), so that C(kubectl get events) and C(kubectl describe) tell what pinotops did.
        None when nothing changed, and none in check mode.
      - Best effort, as Kubernetes' own controllers do it; an Event the apiserver refuses (no C(create) on
        C(events)) becomes a warning, never a failure.
    type: bool
    default: true
extends_documentation_fragment:
  - pinotops.k8s.cluster
  - pinotops.k8s.k8s_auth.ACTION_GROUP
  - pinotops.k8s.k8s_auth
attributes:
  check_mode:
    support: full
    description: Every object is sent as a server-side dry run; C(changed), C(changes) and the diff are exact
      predictions and nothing is written.
  diff_mode:
    support: full
    description: Before and after of every object that changes, as YAML (server bookkeeping and status removed;
      the rendered .conf files as blocks, so the diff shows each changed line).
"""

EXAMPLES = r"""
- name: A three-zone Pinot cluster with hot and cold servers
  pinotops.k8s.pinot_cluster:
    kubeconfig: ~/.kube/config
    cluster:
      name: pinot
      namespace: analytics
      image: apachepinot/pinot:1.4.0
      zookeeper:
        address: zk-0.zk:2181,zk-1.zk:2181,zk-2.zk:2181/pinot
      # Three controllers serve every segment from a deep store; its key pair stays in the Secret pinot-s3.
      deep_store:
        uri: s3://pinot-segments/analytics
        region: eu-west-1
        credentials_secret: {name: pinot-s3}
      pinot:
        controller:
          properties:
            controller.task.scheduler.enabled: true
            controller.admin.access.control.principals: admin
            controller.admin.access.control.principals.admin.password: ${env:PINOT_ADMIN_PASSWORD}
          jvm_opts: -Xms256m -Xmx1g
        server:
          jvm_opts: -Xms1g -Xmx4g
      secret_env:
        - name: PINOT_ADMIN_PASSWORD
          secret: pinot-auth
          key: password
          roles: [controller]
      profiles:
        small:
          resources: {requests: {cpu: 500m, memory: 2Gi}}
          storage: {size: 10Gi}
        hot:
          resources: {requests: {cpu: "4", memory: 16Gi}}
          storage: {size: 200Gi, class: fast}
      node_groups:
        - {name: controller, role: controller, replicas: 3, zones: [zone-a, zone-b, zone-c], profile: small}
        - {name: broker-a, role: broker, replicas: 2, zone: zone-a, profile: small}
        - {name: broker-b, role: broker, replicas: 2, zone: zone-b, profile: small}
        - {name: server-hot-a, role: server, replicas: 2, zone: zone-a, profile: hot}
        - {name: server-hot-b, role: server, replicas: 2, zone: zone-b, profile: hot}
        - {name: server-cold-c, role: server, replicas: 2, zone: zone-c, profile: small,
           overrides: {storage: {size: 1Ti}}}
        - {name: minion, role: minion, replicas: 1, profile: small}
    wait: true
    wait_timeout: 900

- name: Roll the new image to the upper half of server-hot-a only (canary)
  pinotops.k8s.pinot_cluster:
    cluster: "{{ pinot_cluster }}"
    node_groups: [server-hot-a]
    partitions: {server-hot-a: 1}
    wait: true

- name: Remove the cluster, keeping its volumes
  pinotops.k8s.pinot_cluster:
    cluster: {name: pinot, namespace: analytics}
    state: absent
"""

RETURN = r"""
changes:
  description: What changed (or would change in check mode), as C(Kind/name) followed by a dotted path;
    lists of named items (containers, env, ports) appear by name.
  returned: always
  type: list
  elements: str
  sample: ["StatefulSet/pinot-server-hot-a spec.template.spec.containers.pinot.image",
           "ConfigMap/pinot-broker-b-config (created)"]
objects:
  description: Every object the run considered, with its action (V(created), V(updated), V(unchanged), V(deleted)).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "StatefulSet", "name": "pinot-controller", "action": "unchanged"}]
instances:
  description:
    - The Pinot instances this run adds and removes (would, in check mode), per node group whose pod count
      changes or that is pruned, and every instance of each server group with a pool; a StatefulSet scales in
      from its highest ordinal. Other groups are left out.
    - What Pinot must be told around the run, with M(pinotops.k8s.pinot_instance) - drain the C(removed) ones
      before (a check mode run tells which), drop them after, put the C(added) ones in service, give every one
      of C(instances) its C(pool).
  returned: always (empty with O(state=absent))
  type: list
  elements: dict
  contains:
    group:
      description: The node group.
      type: str
    role:
      description: Its Pinot role.
      type: str
    tags:
      description: The C(tags) of the node group's description (null when it gives none).
      type: list
      elements: str
    pool:
      description: The Pinot pool of the group's servers (its own C(pool) or its zone's; null when none).
      type: int
    instances:
      description: Instance ids of every pod of the group after the run.
      type: list
      elements: str
    added:
      description: Instance ids of the new pods.
      type: list
      elements: str
    removed:
      description: Instance ids of the pods that go.
      type: list
      elements: str
  sample: [{"group": "server-b", "role": "server", "tags": null, "pool": 1,
            "instances": ["Server_pinot-server-b-0.pinot-server-b-headless.pinot.svc.cluster.local_8098"], "added": [],
            "removed": ["Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098"]}]
restarts:
  description:
    - In check mode, the pods the run would restart, per StatefulSet (node groups and the managed ZooKeeper), in
      deployment order - those that stay (not scaled in), at or above the group's partition of O(partitions), and
      either get a new pod template or still run another revision than the StatefulSet's update revision (a
      rollout held or stopped). Empty outside check mode.
    - What the C(pinotops.k8s.pinot_cluster) role hands to M(pinotops.k8s.pinot_cluster_rollout) rather than
      let each StatefulSet roll on its own - C(partition) as O(partitions) holds them all.
  returned: always
  type: list
  elements: dict
  contains:
    group:
      description: The node group, or C(zookeeper).
      type: str
    role:
      description: Its role (C(zookeeper) for the managed ZooKeeper).
      type: str
    pods:
      description: The pods that would restart, highest ordinal first (the order of a rollout).
      type: list
      elements: str
    partition:
      description: The lowest partition at which none of them restarts.
      type: int
  sample: [{"group": "broker-a", "role": "broker", "pods": ["pinot-broker-a-1", "pinot-broker-a-0"], "partition": 2}]
groups:
  description:
    - Rollout status per node group (after the run, or the current one in check mode), keyed by group name.
    - Each holds C(statefulset), C(replicas), C(ready), C(updated), C(current_revision), C(update_revision),
      C(partition), C(generation), C(observed_generation), C(rollout_complete), C(message), C(image) and
      C(pods) (each with C(name), C(instance), C(revision), C(image), C(ready), C(phase), C(waiting), C(node),
      C(zone));
      C(instance) is the Helix instance id the pod registers under (null for ZooKeeper pods); C(waiting)
      says why a pod is not Ready (unschedulable, an image or crash-loop reason, a failing readiness probe),
      null when it is.
    - With a managed ZooKeeper, its ensemble appears as group C(zookeeper) whenever the run covered it.
  returned: when O(state=present)
  type: dict
services:
  description:
    - The cluster's client Services keyed by role (and C(zookeeper)), each with C(name), C(cluster_ip) (null
      until allocated, as in check mode before the first run), C(ports) by name and C(url), the in-cluster URL
      of the first port.
    - What the roles' Pinot gates and resources can use as controller address, for example
      C(http://{{ result.services.controller.cluster_ip }}:{{ result.services.controller.ports.http }}) where
      Ansible reaches ClusterIPs.
  returned: when O(state=present)
  type: dict
  sample: {"controller": {"name": "pinot-controller", "cluster_ip": "10.96.12.7", "ports": {"http": 9000},
           "url": "http://pinot-controller.analytics.svc.cluster.local:9000"}}
order:
  description:
    - The roles that have node groups, in the order the run applies them - the description's C(deployment_order)
      (default V([controller, broker, server, minion])) without the roles it has no node group of.
    - What the C(pinotops.k8s.pinot_cluster) role loops over, a role at a time.
  returned: when O(state=present)
  type: list
  elements: str
  sample: [controller, broker, server, minion]
  version_added: 2.0.0
groups_by_role:
  description:
    - The names of the node groups of each role of RV(order), in description order (every described group,
      whatever O(node_groups) selects).
    - What the C(pinotops.k8s.pinot_cluster) role gives O(node_groups) to apply one role.
  returned: when O(state=present)
  type: dict
  sample: {"controller": ["controller"], "broker": ["broker-a", "broker-b"],
           "server": ["server-hot-a", "server-hot-b", "server-cold-c"], "minion": ["minion"]}
  version_added: 2.0.0
gate_targets:
  description:
    - What the Pinot gate of every pod of the node groups the run covered checks (M(pinotops.k8s.pinot_health)),
      in the order of RV(order), groups in description order, pods in name order. ZooKeeper pods have none.
    - The instance is the one O(instance_map) names for the pod, its node group or its role, else the Helix
      instance id the pod registers under (C(groups.<group>.pods[].instance)), as
      M(pinotops.k8s.pinot_cluster_rollout) gates its steps.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    group:
      description: The node group.
      type: str
    role:
      description: Its Pinot role, the gate's C(component).
      type: str
    pod:
      description: The pod.
      type: str
    instance:
      description: The Helix instance id the gate checks.
      type: str
    health_url:
      description: The component's own URL whose C(/health) the gate checks (from O(instance_map); null when it
        gives none).
      type: str
  sample: [{"group": "broker-a", "role": "broker", "pod": "pinot-broker-a-0", "health_url": null,
            "instance": "Broker_pinot-broker-a-0.pinot-broker-a-headless.analytics.svc.cluster.local_8099"}]
  version_added: 2.0.0
events:
  description: The Kubernetes Events the run recorded (see O(events)), each with C(kind) and C(name) of the object
    concerned, C(reason), C(message) and C(type).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "StatefulSet", "name": "pinot-server-hot-a", "reason": "Updated", "type": "Normal",
            "message": "Updated by pinotops.k8s: spec.template.spec.containers.pinot.image"}]
executed_requests:
  description: Every write request sent to the apiserver, as C(METHOD path). Empty when nothing changed and
    in check mode (dry runs are counted in RV(request_counts) instead).
  returned: always
  type: list
  elements: str
  sample: ["PATCH /apis/apps/v1/namespaces/analytics/statefulsets/pinot-server-hot-a"]
request_counts:
  description: Number of read requests, write requests, server-side dry runs and Events recorded by the run.
  returned: always
  type: dict
  sample: {"reads": 9, "writes": 0, "dry_runs": 31, "events": 0}
elapsed_seconds:
  description: Wall-clock duration of the run, waiting included.
  returned: always
  type: float
pending:
  description: On a wait timeout, what each unfinished node group is still waiting for.
  returned: failed
  type: dict
  sample: {"server-hot-a": "1 of 2 pods ready"}
field:
  description: On invalid input, the offending field of the description.
  returned: failed
  type: str
  sample: cluster.node_groups[2].role
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.module import run_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.options import CLUSTER_OPTIONS
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8S_AUTH_ARGS


def main():
    argument_spec = dict(
        K8S_AUTH_ARGS,
        cluster=dict(type="dict", required=True, options=CLUSTER_OPTIONS),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        node_groups=dict(type="list", elements="str"),
        partitions=dict(type="dict"),
        prune=dict(type="bool", default=True),
        delete_pvcs=dict(type="bool", default=False),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
        instance_map=dict(type="dict", default={}),
        events=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_cluster(module)


if __name__ == "__main__":
    main()
