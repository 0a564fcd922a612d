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
  cluster:
    description:
      - The cluster description. Its fields follow; C(docs/cluster-description.md) in the collection is the
        complete reference, with examples.
      - The module validates the description itself before any request. Bad names, unknown roles or profiles,
        duplicate groups, negative replicas and credentials in plaintext properties fail with the offending
        field named, for example C(cluster.node_groups[2].role). Unknown keys fail as well; Ansible's argument
        validation names their path, for example C(cluster.node_groups.colour).
      - Fields of type C(raw) are checked by the module, not converted by Ansible (a string V("2") is not an
        integer). A field set to null is the same as one left out.
      - With O(state=absent) only C(name) and C(namespace) are used.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - Required. A DNS-1035 label (lower-case letters, digits, C(-), starting with a letter) of at most 40
            characters. Prefixes every object name and is the C(app.kubernetes.io/instance) label.
          - C(name), C(-) and a group name may together be at most 52 characters.
        type: raw
      namespace:
        description: Required. Namespace of every object. It must exist; pinotops does not create namespaces.
        type: raw
      image:
        description: Required. Pinot image of every node group, for example V(apachepinot/pinot:1.4.0). Its tag
          becomes the C(app.kubernetes.io/version) label.
        type: raw
      image_pull_secrets:
        description: Names of Secrets for pulling the images (a list of strings), the pods' C(imagePullSecrets).
          Default none.
        type: raw
      helix_cluster_name:
        description: The Helix cluster name (C(controller.helix.cluster.name), C(-clusterName)), of letters, digits,
          C(_) and C(-). Default C(name).
        type: raw
      zookeeper:
        description: Required. Exactly one of C(address) or C(managed).
        type: dict
        suboptions:
          address:
            description: An existing ZooKeeper as a connect string, C(host:port[,host:port...][/chroot]).
            type: raw
          managed:
            description:
              - A ZooKeeper ensemble run by pinotops (V({}) for the defaults) - StatefulSet C(<name>-zookeeper),
                its headless and client Services and a PodDisruptionBudget. Pinot then uses
                C(<name>-zookeeper:2181).
              - The node group name C(zookeeper) is then reserved. Switching to C(address) prunes the ensemble
                (its PVCs are kept unless C(delete_pvcs=true)).
            type: dict
            suboptions:
              replicas:
                description: Number of ZooKeeper pods, an integer of 1 or more. Default V(3).
                type: raw
              image:
                description: ZooKeeper image. Default V(zookeeper:3.9.3).
                type: raw
              storage:
                description: The PVC of each ZooKeeper pod, mounted at C(/data).
                type: dict
                suboptions:
                  size:
                    description: A Kubernetes quantity. Default V(5Gi).
                    type: raw
                  class:
                    description: StorageClass of the PVC. Default the cluster's default StorageClass.
                    type: raw
              profile:
                description: A profile of C(profiles) for the ZooKeeper pods (resources, placement...). Its
                  C(storage) is ignored.
                type: raw
      pinot:
        description: Pinot configuration per role, C(properties) and C(jvm_opts) of each role's node groups.
        type: dict
        suboptions:
          controller:
            description: Of the controllers.
            type: dict
            suboptions: &pinot_config
              properties:
                description:
                  - A free-form mapping of Pinot property to value, rendered as C(key=value) lines (sorted) into
                    C(pinot-<role>.conf). Values may be strings, numbers, booleans (rendered V(true) or
                    V(false)) or lists (joined with C(,)), without line breaks.
                  - Properties pinotops sets itself (ports, ZooKeeper address, Helix cluster name, instance ids)
                    are refused. A credential-looking property must be exactly C(${env:NAME}) with C(NAME) a
                    C(secret_env) entry of the role.
                type: dict
              jvm_opts:
                description: A string, put into the container's C(JAVA_OPTS) after pinotops' DNS cache options and
                  before its log4j and plugins options. A credential C(-D) option must be V(-Dkey=$(NAME\)) with
                  C(NAME) a C(secret_env) entry of the role.
                type: raw
          broker:
            description: Of the brokers.
            type: dict
            suboptions: *pinot_config
          server:
            description: Of the servers.
            type: dict
            suboptions: *pinot_config
          minion:
            description: Of the minions.
            type: dict
            suboptions: *pinot_config
      secret_env:
        description:
          - Credentials from Kubernetes Secrets as environment variables of the Pinot containers
            (C(valueFrom.secretKeyRef)), never in a ConfigMap. A property refers to one as C(${env:NAME}), a
            C(jvm_opts) C(-D) option as V($(NAME\)).
        type: list
        elements: dict
        suboptions:
          name:
            description: Required. The environment variable's name.
            type: raw
          secret:
            description: Required. A Secret in the cluster's namespace. It must exist (checked before any write)
              unless C(optional).
            type: raw
          key:
            description: Required. Key in the Secret. It must exist.
            type: raw
          roles:
            description: The roles whose containers get the variable, a list of V(controller), V(broker),
              V(server) and V(minion). Default every role.
            type: raw
          optional:
            description: A boolean. Do not require the Secret (Kubernetes C(secretKeyRef.optional)). Default
              V(false).
            type: raw
      profiles:
        description:
          - Named, reusable Kubernetes settings, a mapping of profile name to profile. A node group refers to one
            with C(profile) and changes it with C(overrides).
          - A profile may hold C(resources) (container resources), C(storage.size) (a PVC per pod; without it the
            data directory is an C(emptyDir)), C(storage.class), C(storage.access_modes), C(node_selector),
            C(tolerations), C(affinity), C(topology_spread) (pod C(topologySpreadConstraints)), C(pod_labels),
            C(pod_annotations), C(env) (plain environment variables), C(service.type), C(service.annotations) and
            C(service.labels) (of the role's client Service; all groups of a role must agree),
            C(probes.startup), C(probes.readiness) and C(probes.liveness) (merged over pinotops' probes),
            C(termination_grace_period_seconds), C(security_context), C(pod_security_context),
            C(service_account), C(priority_class_name) and C(image_pull_policy).
          - Kubernetes values keep Kubernetes' camelCase spelling; the apiserver's dry run checks them before any
            write.
        type: dict
      node_groups:
        description: Required. The StatefulSets of the cluster, at least one of them a controller group.
        type: list
        elements: dict
        suboptions:
          name:
            description: Required. A unique DNS-1123 label. Names the group's StatefulSet and PodDisruptionBudget
              C(<cluster>-<group>), ConfigMap C(<cluster>-<group>-config-<hash>) and headless Service
              C(<cluster>-<group>-headless).
            type: raw
          role:
            description: Required. V(controller), V(broker), V(server) or V(minion).
            type: raw
          replicas:
            description: The StatefulSet's replicas, an integer of 0 or more. Left out, pinotops never writes
              C(spec.replicas) (for an HPA or another tool).
            type: raw
          zone:
            description: A Kubernetes zone (C(topology.kubernetes.io/zone) node label value) for the group's
              pods. Not together with C(zones).
            type: raw
          zones:
            description: A list of zones; the pods are spread over them. Every zone must be the label value of
              some node (checked before any write). Default no zone constraint.
            type: raw
          image:
            description: Image of this group. Default C(image).
            type: raw
          profile:
            description: Name of a profile of C(profiles).
            type: raw
          overrides:
            description: Profile fields merged over the group's profile (mappings key by key; lists and scalars
              replace) - C(resources), C(storage.size), C(storage.class), C(storage.access_modes),
              C(node_selector), C(tolerations), C(affinity), C(topology_spread), C(pod_labels),
              C(pod_annotations), C(env), C(service.type), C(service.annotations), C(service.labels),
              C(probes.startup), C(probes.readiness), C(probes.liveness), C(termination_grace_period_seconds),
              C(security_context), C(pod_security_context), C(service_account), C(priority_class_name),
              C(image_pull_policy) (see C(profiles)).
            type: dict
          pinot:
            description: C(properties) and C(jvm_opts) merged over those of the group's role in C(pinot) (its
              properties win key by key, its C(jvm_opts) replaces the role's). A change rolls only this group.
            type: dict
            suboptions: *pinot_config
          tags:
            description: Pinot instance tags, a list of strings. Broker tags end in C(_BROKER) and are rendered as
              C(pinot.broker.instance.tags); server tags end in C(_OFFLINE) or C(_REALTIME) and are recorded as
              an annotation, which the C(pinot_cluster) role applies. Controllers have none.
            type: raw
          pool:
            description: Server groups only. The Pinot instance pool, an integer of 0 or more, recorded as the
              annotation C(pinotops.io/pinot-instance-pool).
            type: raw
      deployment_order:
        description: The order in which roles are applied (and, with C(wait=true), waited for), a list of roles
          without duplicates that names every role with node groups. Default V([controller, broker, server,
          minion]).
        type: raw
  state:
    description:
      - V(present) creates or updates the cluster's objects; V(absent) deletes every object carrying the
        cluster's labels (PersistentVolumeClaims only with O(delete_pvcs=true)).
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
      changes or that is pruned; a StatefulSet scales in from its highest ordinal. Groups without change are left out.
    - What Pinot must be told around the run, with M(pinotops.k8s.pinot_instance) - drain the C(removed) ones
      before (a check mode run tells which), drop them after, put the C(added) ones in service.
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
    added:
      description: Instance ids of the new pods.
      type: list
      elements: str
    removed:
      description: Instance ids of the pods that go.
      type: list
      elements: str
  sample: [{"group": "server-b", "role": "server", "tags": null, "added": [],
            "removed": ["Server_pinot-server-b-1.pinot-server-b-headless.pinot.svc.cluster.local_8098"]}]
groups:
  description:
    - Rollout status per node group (after the run, or the current one in check mode), keyed by group name.
    - Each holds C(statefulset), C(replicas), C(ready), C(updated), C(current_revision), C(update_revision),
      C(partition), C(generation), C(observed_generation), C(rollout_complete), C(message), C(image) and
      C(pods) (each with C(name), C(instance), C(revision), C(ready), C(phase), C(waiting), C(node), C(zone));
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

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster_module import run_cluster
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster_options import CLUSTER_OPTIONS
from ansible_collections.pinotops.k8s.plugins.module_utils.k8s_client import K8S_AUTH_ARGS


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
        events=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_cluster(module)


if __name__ == "__main__":
    main()
