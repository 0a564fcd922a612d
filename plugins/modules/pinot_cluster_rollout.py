#!/usr/bin/python
# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pinot_cluster_rollout
short_description: Roll a Pinot cluster on Kubernetes to its description pod by pod, gated on Kubernetes and Pinot
version_added: 2.0.0
description:
  - The ordered, serial, incremental rolling upgrade of the role C(pinotops.k8s.pinot_upgrade), as one task. It
    applies the description node group by node group (roles in O(order), groups of a role in description order, so
    zone by zone when groups are per zone) and restarts each group's pods one step at a time, highest ordinal
    first, through the StatefulSet's C(rollingUpdate.partition).
  - Before each step, asks Pinot whether the cluster can lose the step's instances now (another serving replica
    of every segment they serve, another live broker for every table they route, another live controller); after
    it, waits until the pods are Ready in Kubernetes, then runs the Pinot gate of each (the checks of
    M(pinotops.k8s.pinot_health) for its role). The first failure stops the run, names the node group, step, pods,
    gate and reason, and records a C(UpgradeStopped) Warning Event on the pod or StatefulSet concerned.
  - With O(server_steps=zone), the servers restart a zone at a time instead (see O(server_steps)).
  - Reads what is, every run. Pods already at their group's new revision are not restarted, so a rerun after any
    failure resumes where the last run stopped; a run with nothing left to do writes nothing. A template already
    written held at a partition (the C(pinotops.k8s.pinot_cluster) role's V(hold)) is rolled the same way.
  - With O(preflight) it first waits up to O(settle_timeout) for pods left mid-restart by an interrupted run, then
    checks, before any write, that every node group to roll exists and every one that exists is Ready, the
    controller is healthy and every table's external view equals its ideal state, the version order (controllers
    >= brokers >= servers, minions; judged on the image a group's pods run) holds now and after every role of the
    plan, and every table of O(paused_tables) is a REALTIME table.
  - Every pod is stepped inside this one execution. A line per pod (and per decision) is printed as it happens
    when the task runs on a local connection, otherwise when the task ends; the same lines are returned in
    RV(progress).
author:
  - pinotops maintainers (@pinotops)
options:
  node_groups:
    description:
      - The node groups to roll, in this order. Default every group, role by role in O(order), in description
        order within a role.
    type: list
    elements: str
  order:
    description:
      - The order of the roles. Default the description's C(deployment_order) (controller, broker, server,
        minion). It must name every role that has node groups, unless O(node_groups) lists the groups.
    type: list
    elements: str
    choices: [controller, broker, server, minion]
  batch_size:
    description: Pods restarted per step. Kubernetes still replaces them one after another (C(maxUnavailable) 1);
      a step shares one check before and one gate after.
    type: int
    default: 1
  group_batch_size:
    description: O(batch_size) per node group, as a mapping of group name to pods per step.
    type: dict
    default: {}
  server_steps:
    description:
      - How the server groups restart. V(serial) - pod by pod, as every other role (O(batch_size) pods a step).
      - V(zone) - a zone at a time. The servers of every node group whose only zone is Z form one step (several
        groups may share a zone); zones go in the order they first appear among the server groups. The check
        before the step judges every pod of the zone still to restart together (every segment they serve needs
        another serving replica outside the zone); when it fails the run stops before anything is written,
        naming the segments, unless V(server) is in O(accept_unavailable). Then each group's new template is
        written without partition, the zone's pods not yet at the new revision are deleted together, their
        StatefulSets recreate them at the new revision, and once all are Ready each pod's Pinot gate runs.
      - Server groups in no zone or in several keep pod-by-pod steps (the run warns). O(batch_size) and
        O(group_batch_size) do not apply to zone steps.
      - The pods come back together only with the StatefulSets' C(podManagementPolicy) V(Parallel); with
        V(OrderedReady) their stops overlap, but Kubernetes recreates them one after another.
      - Needs C(delete) on pods in the namespace (C(extensions/rbac/pinotops-operator.yml)); a dry-run delete
        checks it before anything is written, in check mode too. Pods are deleted, not evicted, so a
        PodDisruptionBudget does not hold them back; the check before the step does.
    type: str
    choices: [serial, zone]
    default: serial
  instance_map:
    description:
      - The Pinot instance a pod's gates check, by pod name, node group or role (in that order), each a mapping
        with C(instance) (the Helix instance id) and optionally C(health_url) (the component's own URL; its
        C(/health) is checked). Default the instance id the pod registers under, from the description.
    type: dict
    default: {}
  health_url_credentials:
    description: Send the controller's credentials to the C(health_url) of O(instance_map) too. Off by default;
      Pinot's C(/health) needs none and a pod's URL is usually plain HTTP.
    type: bool
    default: false
  preflight:
    description: Run the pre-flight checks (see the description) before anything is written.
    type: bool
    default: true
  settle_timeout:
    description: Seconds the pre-flight waits for every pod to be Ready (a rollout left by an interrupted run).
    type: int
    default: 120
  restart_check_timeout:
    description: Seconds the check before a step waits for the cluster to be able to lose the step's pods.
    type: int
    default: 60
  accept_unavailable:
    description:
      - Roles whose pods are restarted even when the check before the step fails; it then warns. For clusters that
        accept unavailability, for example tables with replication 1, or a single broker or controller.
    type: list
    elements: str
    choices: [controller, broker, server]
    default: []
  rollout_timeout:
    description: Seconds each step may take to become Ready in Kubernetes.
    type: int
    default: 600
  gate_timeouts:
    description: Seconds each Pinot gate may take, by C(cluster) (the pre-flight), C(controller), C(broker),
      C(server) and C(minion). Defaults 60, 300, 300, 600 and 300.
    type: dict
    default: {}
  pause_between_steps:
    description: Seconds to wait after each step that restarted pods.
    type: int
    default: 0
  paused_tables:
    description:
      - REALTIME tables whose consumption is paused (their consuming segments committed) before the first pod
        restarts, and resumed from the last committed offsets after the last group. A run that stops leaves them
        paused; the rerun resumes them when it ends.
    type: list
    elements: str
    default: []
  pause_timeout:
    description: Seconds a pause may take to commit the consuming segments, and a resume to create new ones.
    type: int
    default: 300
  events:
    description:
      - Record Kubernetes Events (source C(pinotops.k8s)) on what the rollout writes and rolls (C(Updated),
        C(Rolled)) and a C(UpgradeStopped) Warning where a gate stopped it. None in check mode or when nothing
        changed. Best effort; a refused Event becomes a warning.
    type: bool
    default: true
extends_documentation_fragment:
  - pinotops.k8s.cluster
  - pinotops.k8s.pinot.NESTED
  - pinotops.k8s.k8s_auth.ACTION_GROUP
  - pinotops.k8s.k8s_auth
requirements:
  - requests
attributes:
  check_mode:
    support: full
    description: Runs the pre-flight once (no waiting) and predicts, per node group (per zone for zone steps), the
      objects that change and the pods that would restart; writes nothing and restarts nothing.
  diff_mode:
    support: full
    description: Before and after of every object of the rolled node groups that changes, as YAML.
"""

EXAMPLES = r"""
- name: What would the upgrade restart?
  pinotops.k8s.pinot_cluster_rollout:
    kubeconfig: ~/.kube/config
    cluster: "{{ pinot_cluster }}"
    pinot:
      controller_url: http://localhost:9000
  check_mode: true
  register: plan

- name: Upgrade to the description, pod by pod, gated on Pinot
  pinotops.k8s.pinot_cluster_rollout:
    kubeconfig: ~/.kube/config
    cluster: "{{ pinot_cluster }}"
    pinot:
      controller_url: http://localhost:9000
    # Servers of big tenants need long to load their segments; the other gates keep their defaults.
    gate_timeouts: {server: 1800}

- name: Brokers only, two pods per step, without the pre-flight
  pinotops.k8s.pinot_cluster_rollout:
    kubeconfig: ~/.kube/config
    cluster: "{{ pinot_cluster }}"
    pinot:
      controller_url: http://localhost:9000
    node_groups: [broker-a, broker-b]
    batch_size: 2
    preflight: false

- name: Upgrade with the servers a zone at a time (needs delete on pods)
  pinotops.k8s.pinot_cluster_rollout:
    kubeconfig: ~/.kube/config
    cluster: "{{ pinot_cluster }}"
    pinot:
      controller_url: http://localhost:9000
    server_steps: zone
"""

RETURN = r"""
changes:
  description: What the run changed (would change, in check mode) - object change paths as
    M(pinotops.k8s.pinot_cluster) reports them, and the tables whose consumption was paused or resumed.
  returned: always
  type: list
  elements: str
  sample: ["StatefulSet/pinot-broker-a spec.template.spec.containers.pinot.image",
           "StatefulSet/pinot-broker-a spec.updateStrategy.rollingUpdate.partition"]
steps:
  description: Every step the run reached, in order.
  returned: always
  type: list
  elements: dict
  contains:
    group:
      description: The node group; for a zone step, the zone's node groups, comma-separated.
      type: str
    zone:
      description: The zone of a zone step (O(server_steps=zone)).
      returned: for zone steps
      type: str
    label:
      description: C(<group> <step>/<steps>), or C(zone <zone> <step>/<steps>) for a zone step.
      type: str
    pods:
      description: The step's pods.
      type: list
      elements: str
    restarted:
      description: The pods this run restarted (the others were at the new revision already).
      type: list
      elements: str
    check_seconds:
      description: Seconds the check before the restart took (null when it did not run).
      type: float
    ready_seconds:
      description: Seconds from the step's write (the partition lowered, or for a zone step the template written
        and the pods deleted) until its pods were Ready (null when none restarted).
      type: float
    gates:
      description: Per pod, its instance, the Pinot checks (C(check), C(ok), C(detail)) and their seconds.
      type: list
      elements: dict
    seconds:
      description: Seconds the whole step took, the pause after it included.
      type: float
progress:
  description: The lines the run printed, one per pod and per decision.
  returned: always
  type: list
  elements: str
  sample: ["pre-flight passed: 6 node groups Ready; Pinot controller_health, segments; version order controller >
            broker > server > minion holds",
           "broker-a 1/2 pinot-broker-a-1: restarted, Ready after 31.2 s; Pinot gate passed after 0.1 s (live)"]
groups:
  description: The rollout status of every node group at the end, as M(pinotops.k8s.pinot_cluster_info) returns it.
  returned: success
  type: dict
preflight_seconds:
  description: Seconds the wait for a settled cluster and the pre-flight checks took.
  returned: success
  type: float
paused_tables:
  description: The tables whose consumption this run paused.
  returned: success
  type: list
  elements: str
resumed_tables:
  description: The tables whose consumption this run resumed.
  returned: success
  type: list
  elements: str
stopped:
  description: Where the run stopped - C(group), C(step), C(pods), C(gate) (for example V(kubernetes rollout),
    V(server segments), V(broker restart_safe), V(pre-flight)) and C(reason); in a zone step also C(zone).
  returned: failed
  type: dict
events:
  description: The Kubernetes Events recorded (C(kind), C(name), C(reason), C(message), C(type)).
  returned: always
  type: list
  elements: dict
executed_requests:
  description: Every write sent, to the apiserver and to the Pinot controller, in order.
  returned: always
  type: list
  elements: str
request_counts:
  description: Requests by system - C(kubernetes) (C(reads), C(writes), C(dry_runs), C(events)) and C(pinot)
    (C(reads), C(writes)).
  returned: success
  type: dict
elapsed_seconds:
  description: Wall-clock duration of the run.
  returned: success
  type: float
field:
  description: On invalid input, the offending option or field of the description.
  returned: failed
  type: str
  sample: group_batch_size.broker-a
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.module import run_cluster_rollout
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.options import CLUSTER_OPTIONS
from ansible_collections.pinotops.k8s.plugins.module_utils.facts import ROLES
from ansible_collections.pinotops.k8s.plugins.module_utils.kube.client import K8S_AUTH_ARGS
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PINOT_CONNECTION_ARGS


def main():
    argument_spec = dict(
        K8S_AUTH_ARGS,
        cluster=dict(type="dict", required=True, options=CLUSTER_OPTIONS),
        # Created when left out, so the connection can come from PINOT_CONTROLLER_URL & co.
        pinot=dict(type="dict", apply_defaults=True, options=PINOT_CONNECTION_ARGS),
        node_groups=dict(type="list", elements="str"),
        order=dict(type="list", elements="str", choices=list(ROLES)),
        batch_size=dict(type="int", default=1),
        group_batch_size=dict(type="dict", default={}),
        server_steps=dict(type="str", choices=["serial", "zone"], default="serial"),
        instance_map=dict(type="dict", default={}),
        health_url_credentials=dict(type="bool", default=False),
        preflight=dict(type="bool", default=True),
        settle_timeout=dict(type="int", default=120),
        restart_check_timeout=dict(type="int", default=60),
        accept_unavailable=dict(type="list", elements="str", choices=["controller", "broker", "server"], default=[]),
        rollout_timeout=dict(type="int", default=600),
        gate_timeouts=dict(type="dict", default={}),
        pause_between_steps=dict(type="int", default=0),
        paused_tables=dict(type="list", elements="str", default=[]),
        pause_timeout=dict(type="int", default=300),
        events=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_cluster_rollout(module)


if __name__ == "__main__":
    main()
