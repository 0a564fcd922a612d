"""A small heterogeneous cluster on kwok pods whose Pinot gates point at the test bed's real Pinot processes: what
the rollout tests upgrade (tests/integration/test_roles.py, test_pinot_cluster_rollout.py)."""

from __future__ import annotations

from tests.testbed.k8s import ANN_READY_DELAY


def small_description(name, namespace, image="apachepinot/pinot:1.4.0"):
    profile = {"pod_annotations": {ANN_READY_DELAY: "1s"}}
    return {
        "name": name, "namespace": namespace, "image": image, "zookeeper": {"address": "zk.example:2181/pinot"},
        "profiles": {"p": profile},
        # Two controllers need a deep store; kwok pods never reach it.
        "deep_store": {"uri": f"s3://pinot-segments/{name}", "region": "us-east-1"},
        "node_groups": [
            {"name": "controller", "role": "controller", "replicas": 2, "zones": ["zone-a", "zone-b"], "profile": "p",
             "overrides": {"storage": {"size": "1Gi"}}},
            {"name": "broker-a", "role": "broker", "replicas": 1, "zone": "zone-a", "profile": "p"},
            {"name": "broker-b", "role": "broker", "replicas": 1, "zone": "zone-b", "profile": "p"},
            {"name": "server-hot-a", "role": "server", "replicas": 2, "zone": "zone-a", "profile": "p"},
            {"name": "server-hot-b", "role": "server", "replicas": 2, "zone": "zone-b", "profile": "p"},
            # No replicas: sized by someone else (an HPA); the StatefulSet's count (1) is what the upgrade steps.
            {"name": "minion", "role": "minion", "profile": "p"},
        ],
    }


def instance_map(desc, pinot):
    """Point each pod's gate at a real Pinot process of its role (servers alternate over the real servers)."""
    instances = pinot.instances
    by_role = {r: [i for i in instances if i.startswith(r.capitalize() + "_")] for r in
               ("controller", "broker", "server", "minion")}
    out = {
        "controller": {"instance": by_role["controller"][0]},
        "broker": {"instance": by_role["broker"][0], "health_url": pinot.broker_url},
        "minion": {"instance": by_role["minion"][0], "health_url": pinot.minion_url},
    }
    servers = list(zip(by_role["server"], pinot.server_admin_urls, strict=False))
    k = 0
    for group in desc["node_groups"]:
        if group["role"] != "server":
            continue
        for ordinal in range(group["replicas"]):
            inst, url = servers[k % len(servers)]
            out[f"{desc['name']}-{group['name']}-{ordinal}"] = {"instance": inst, "health_url": url}
            k += 1
    return out
