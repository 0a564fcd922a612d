# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facts the collection names in more than one place, each defined once: Pinot's (its roles and their order,
ports and health resources, Helix instance ids, tenant tags and table types, the version an image tag gives) and
how pinotops names what it runs on Kubernetes (objects, labels, annotations, its field manager).

Why here, at the top of module_utils and importing nothing of the collection (standard library only): the Pinot
facts are needed by pinot/ (tenants, instances, gates) and by cluster/ (validation, rendering), and the field
manager by kube/ (its applies and Events) and by cluster/ (the managed-by label); those layers may not import each
other, only a module below them. The Kubernetes naming facts could have stayed in cluster/, the only layer that
uses most of them, but a name is a fact like a port: one file to read for every name pinotops gives or expects
reads better than two, and this one is small (AnsiballZ ships it with any module that imports it).
tests/unit/plugins/module_utils/test_facts.py fails when one of these values is written again elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# -- Pinot -----------------------------------------------------------------------------------------------------

# The roles of a Pinot node, in the order Pinot's upgrade documentation deploys them: the default
# `deployment_order` and rollout order (the pinot_cluster role loops over the `order` pinot_cluster returns).
ROLES = ("controller", "broker", "server", "minion")
DEFAULT_ORDER = ROLES

# Every port a role listens on: (name, number, the property that sets it, served by the role's client Service).
# The first is the port of the role's Helix instance id. Pinot's multi-stage ports default to 0, a random port
# at every start: pinned, so that they can be declared.
ROLE_PORTS = {
    "controller": (("http", 9000, "controller.port", True),),
    "broker": (("http", 8099, "pinot.broker.client.queryPort", True),
               ("mailbox", 8442, "pinot.query.runner.port", False)),
    "server": (("netty", 8098, "pinot.server.netty.port", True), ("admin", 8097, "pinot.server.adminapi.port", True),
               ("grpc", 8090, "pinot.server.grpc.port", True), ("query", 8421, "pinot.query.server.port", False),
               ("mailbox", 8442, "pinot.query.runner.port", False)),
    "minion": (("http", 9514, "pinot.minion.port", True),),
}
# The managed ZooKeeper's ports (the official image's defaults), in the order its Services declare them.
ZOOKEEPER_PORTS = {"client": 2181, "follower": 2888, "election": 3888}


def role_port(role: str, name: str) -> int:
    """The number of a role's port, by its name in ROLE_PORTS."""
    return next(number for port_name, number, _prop, _client in ROLE_PORTS[role] if port_name == name)


# Each role's health resources (apache/pinot), by Kubernetes probe: (path, port). A server answers on its admin
# port, and tells readiness (its segments loaded and caught up) from liveness.
_HEALTH_PATHS = {"startup": "/health", "readiness": "/health", "liveness": "/health"}
_SERVER_HEALTH_PATHS = {"startup": "/health/liveness", "readiness": "/health/readiness", "liveness": "/health/liveness"}
_HEALTH_PORT = {"controller": "http", "broker": "http", "server": "admin", "minion": "http"}
HEALTH = {role: {probe: (path, role_port(role, _HEALTH_PORT[role]))
                 for probe, path in (_SERVER_HEALTH_PATHS if role == "server" else _HEALTH_PATHS).items()}
          for role in ROLES}

# Helix names an instance `<Type>_<host>_<port>`.
INSTANCE_PREFIX = {"controller": "Controller_", "broker": "Broker_", "server": "Server_", "minion": "Minion_"}

# Table types. Pinot names a table of a type `<table>_<TYPE>`, and tags a server tenant's servers
# `<tenant>_<TYPE>` (TagNameUtils), a broker tenant's brokers `<tenant>_BROKER`.
TABLE_TYPES = ("OFFLINE", "REALTIME")
TYPE_SUFFIX = {table_type: "_" + table_type for table_type in TABLE_TYPES}
SERVER_TAG_SUFFIXES = tuple(TYPE_SUFFIX.values())
BROKER_TAG_SUFFIX = "_BROKER"


def image_tag(image: str | None) -> str | None:
    """The tag of an image reference (`apachepinot/pinot:1.4.0` -> `1.4.0`, a digest ignored); None when it has
    none (a port of the registry is not a tag)."""
    if not image:
        return None
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rpartition(":")[2] if ":" in last else None


# -- Kubernetes: how pinotops names what it runs -------------------------------------------------------------

# pinotops' name to Kubernetes: the field manager of its server-side applies (another name would leave the
# fields of existing objects to a manager nobody runs), the managed-by label of its objects, the source
# component of its Events and its User-Agent.
FIELD_MANAGER = "pinotops.k8s"
MANAGED_BY = FIELD_MANAGER

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_GROUP = "pinotops.io/node-group"
ANNOTATION_TAGS = "pinotops.io/pinot-instance-tags"
ANNOTATION_POOL = "pinotops.io/pinot-instance-pool"
# The prefixes of the label keys above: a description may not set a label under them.
RESERVED_LABEL_PREFIXES = ("app.kubernetes.io/", "pinotops.io/")
# Kubernetes' own labels that pinotops reads and sets: a node's zone, a pod's StatefulSet revision.
ZONE_LABEL = "topology.kubernetes.io/zone"
REVISION_LABEL = "controller-revision-hash"

# The managed ZooKeeper's name part (its objects are `<cluster>-zookeeper`), component and group label.
ZOOKEEPER = "zookeeper"


def sts_name(cluster_name: str, group: str) -> str:
    """A node group's StatefulSet, which also names its PodDisruptionBudget and ServiceMonitor."""
    return f"{cluster_name}-{group}"


def pod_name(sts: str, ordinal: int) -> str:
    return f"{sts}-{ordinal}"


def headless_service_name(sts: str) -> str:
    """The Service that gives each pod of the StatefulSet its DNS name."""
    return f"{sts}-headless"


def client_service_name(cluster_name: str, role: str) -> str:
    """The Service of a role, spanning its node groups."""
    return f"{cluster_name}-{role}"


def config_map_name(sts: str, data: Any) -> str:
    """A group's rendered config is named after its content and never changed in place: each pod revision mounts
    the config it was created with, even when a held pod of the old revision restarts during an upgrade."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:10]
    return f"{sts}-config-{digest}"


def service_host(service: str, namespace: str) -> str:
    """A Service's name in the cluster's DNS."""
    return f"{service}.{namespace}.svc.cluster.local"


def instance_id(role: str | None, pod: str, service: str | None, namespace: str) -> str | None:
    """The Helix instance id of a Pinot pod: with pinot.set.instance.id.to.hostname it is the pod's DNS name
    (StatefulSet pod + its headless Service) and the role's first port. None for a non-Pinot role."""
    if role not in INSTANCE_PREFIX:
        return None
    return f"{INSTANCE_PREFIX[role]}{pod}.{service_host(service, namespace)}_{ROLE_PORTS[role][0][1]}"
