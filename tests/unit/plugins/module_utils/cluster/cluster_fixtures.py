"""A heterogeneous three-zone description shared by the cluster unit tests."""

import copy

DESCRIPTION = {
    "name": "pinot",
    "namespace": "analytics",
    "image": "apachepinot/pinot:1.4.0",
    "zookeeper": {"address": "zk.example:2181/pinot"},
    "pinot": {
        "controller": {"properties": {"controller.task.scheduler.enabled": True,
                                      "controller.admin.access.control.principals.admin.password":
                                          "${env:PINOT_ADMIN_PASSWORD}"},
                       "jvm_opts": "-Xms256m   -Xmx1g"},
        "server": {"properties": {"pinot.server.instance.realtime.alloc.offheap": True}},
    },
    "secret_env": [{"name": "PINOT_ADMIN_PASSWORD", "secret": "pinot-auth", "key": "password",
                    "roles": ["controller"]}],
    "profiles": {
        "small": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}, "storage": {"size": "10Gi"}},
        "hot": {"resources": {"requests": {"cpu": "2", "memory": "8Gi"}},
                "storage": {"size": "100Gi", "class": "fast"}, "pod_annotations": {"team": "olap"}},
    },
    "node_groups": [
        {"name": "controller", "role": "controller", "replicas": 1, "zones": ["zone-a", "zone-b"],
         "profile": "small"},
        {"name": "broker-a", "role": "broker", "replicas": 1, "zone": "zone-a", "tags": ["DefaultTenant_BROKER"]},
        {"name": "broker-b", "role": "broker", "replicas": 1, "zone": "zone-b"},
        {"name": "server-hot-a", "role": "server", "replicas": 2, "zone": "zone-a", "profile": "hot",
         "tags": ["hot_OFFLINE", "hot_REALTIME"], "pool": 0},
        {"name": "server-hot-b", "role": "server", "replicas": 2, "zone": "zone-b", "profile": "hot",
         "image": "apachepinot/pinot:1.5.1", "overrides": {"resources": {"limits": {"memory": "10Gi"}}}},
        {"name": "server-cold-c", "role": "server", "zone": "zone-c", "profile": "small",
         "pinot": {"jvm_opts": "-Xmx2g", "properties": {"pinot.server.query.executor.timeout": 30000}}},
        {"name": "minion", "role": "minion", "replicas": 1},
    ],
}


def description(**changes):
    result = copy.deepcopy(DESCRIPTION)
    result.update(changes)
    return result
