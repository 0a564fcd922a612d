# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shapes that pass between the cluster modules, as TypedDicts: the normalised cluster description and its node
groups (spec.normalise_cluster), a node group's status (groups.group_status, pinot_cluster's `groups` report) and the
steps of a rollout (rollout_plan.group_steps, rollout.Rollout.plan_steps and roll_zone). They describe plain dicts:
nothing checks them at run time; tests/unit/plugins/module_utils/cluster/test_shapes.py checks that the code builds
exactly these keys. Standard library only, and no NotRequired (Python 3.11): optional keys live in a `total=False`
subclass."""

from __future__ import annotations

from typing import Any, TypedDict


class SecretEnv(TypedDict):
    """An environment variable from a Secret key (cluster.secret_env, or the deep store's credentials)."""

    name: str  # the variable
    secret: str  # the Secret's name
    key: str  # the key in it
    roles: list[str]  # the roles whose containers get it, sorted
    optional: bool  # whether a pod starts without the Secret or key


class NodeGroup(TypedDict):
    """One node group of the normalised description (spec._node_group)."""

    name: str  # the group's name, unique in the cluster; the StatefulSet is <cluster>-<name>
    role: str  # controller, broker, server or minion (facts.ROLES)
    replicas: int | None  # None: left to a HorizontalPodAutoscaler
    zones: list[str]  # the zones its pods are spread over (from `zone` or `zones`); empty: anywhere
    image: str  # its own image, else the cluster's
    profile: str | None  # the name of the profile it uses, or None
    settings: dict[str, Any]  # its overrides merged over its profile (spec.PROFILE_KEYS)
    properties: dict[str, Any]  # the Pinot properties: deep store's, then the role's, then its own
    jvm_opts: str  # JAVA_OPTS: its own, else its role's, else ""
    tags: list[str] | None  # Pinot instance tags, or None to leave Pinot's default
    pool: int | None  # the Pinot instance pool (servers; a zone's pool when alone in one zone)
    secret_env: list[SecretEnv]  # what its role gets of cluster.secret_env, then the deep store's credentials
    metrics: dict[str, Any]  # the Prometheus JMX exporter settings of the group


class Cluster(TypedDict):
    """The normalised cluster description (spec.normalise_cluster): validated, defaulted, every key present."""

    name: str  # the cluster's name (a DNS-1035 label of at most 40 characters), the prefix of every object name
    namespace: str  # the Kubernetes namespace
    image: str  # the Pinot image of every group that names none
    image_pull_secrets: list[str]  # Secret names
    helix_cluster_name: str  # the Helix cluster name (default: name)
    zookeeper: dict[str, Any]  # the ZooKeeper to use, or the managed ensemble (`managed`)
    secret_env: list[SecretEnv]  # environment variables from Secrets
    deep_store: dict[str, Any] | None  # the segment deep store, or None
    profiles: dict[str, dict[str, Any]]  # {name: checked profile}
    node_groups: list[NodeGroup]  # in description order
    deployment_order: list[str]  # the roles that have groups, in the order they roll out
    zone_pools: dict[str, int]  # {zone: Pinot pool} for every zone a server group is alone in


class PodStatus(TypedDict):
    """One pod of a group's status (groups.group_status)."""

    name: str  # the pod's name, <statefulset>-<ordinal>
    instance: str | None  # the Helix instance id it registers as (None for ZooKeeper)
    revision: str | None  # the controller revision it runs
    image: str | None  # the image of its first container
    ready: bool  # whether it is Ready
    phase: str | None  # its status.phase
    waiting: str | None  # why it is not Ready (kube.status.waiting_reason), None when Ready
    node: str | None  # the node it is scheduled on
    zone: str | None  # that node's zone


class GroupStatus(TypedDict):
    """A node group's status as pinot_cluster reports it (groups.group_status), from its StatefulSet and pods."""

    statefulset: str  # the StatefulSet's name
    replicas: int | None  # spec.replicas
    ready: int  # status.readyReplicas
    updated: int  # status.updatedReplicas
    current_revision: str | None  # status.currentRevision
    update_revision: str | None  # status.updateRevision: the revision of the template last written
    partition: int  # the rolling update's partition: pods below it keep their revision
    generation: int | None  # metadata.generation
    observed_generation: int | None  # status.observedGeneration
    rollout_complete: bool  # kube.status.rollout_status's verdict
    message: str  # that verdict, in words
    image: str | None  # the template's image (rollout.running_images: the pods' when they all run one)
    pods: list[PodStatus]  # by name


class _StepTargetRequired(TypedDict):
    pod: str  # the pod to gate
    instance: str  # its Helix instance id (pinot_cluster's report, or the instance map's)


class StepTarget(_StepTargetRequired, total=False):
    """A Pinot gate target of a step (rollout_plan.step_targets)."""

    health_url: str  # the instance's own health endpoint, from the instance map


class PlanStep(TypedDict):
    """A step of a node group's rollout (rollout_plan.group_steps)."""

    label: str  # "<group> <i>/<n>"
    pods: list[str]  # its pods, highest ordinal first
    targets: list[StepTarget]  # the Pinot gate of each pod
    todo: bool  # a pod of it is missing or not at the update revision
    restart: list[str]  # the instances of the targets still to restart
    ordinal: int  # the lowest ordinal of the step
    partitions: dict[str, int]  # {group: ordinal} for pinot_cluster; empty for the last step (releases it)


class RolloutStep(PlanStep):
    """A plan step as the rollout runs it: rollout.Rollout.plan_steps adds these keys to each."""

    stale: list[str]  # its pods not at the update revision (before a new template is written: all)
    revisions: dict[str, str | None]  # {pod: the revision it runs}
    groups: list[str]  # its node group (one)
    where: str  # "node group <name>", in messages


class ZoneStep(TypedDict):
    """The one step of a zone (rollout.Rollout.roll_zone, server_steps=zone): the steps of its server groups
    (every pod of each) joined."""

    label: str  # "zone <z> <i>/<n>"
    zone: str  # the zone
    groups: list[str]  # its server groups
    where: str  # "zone <z> (node groups ...)", in messages
    pods: list[str]  # every pod of those groups
    targets: list[StepTarget]  # the Pinot gate of each pod
    stale: list[str]  # the pods not at their group's update revision
    restart: list[str]  # the instances still to restart
    revisions: dict[str, str | None]  # {pod: the revision it runs}


class _RolloutUnitRequired(TypedDict):
    zone: str | None  # the zone, or None for a group alone
    groups: list[NodeGroup]  # the groups, in rollout order


class RolloutUnit(_RolloutUnitRequired, total=False):
    """A unit of the rollout (rollout_plan.rollout_units): a node group alone, or the server groups of a zone."""

    label: str  # "zone <z> <i>/<n>" (zone units only; added by rollout.Rollout)
