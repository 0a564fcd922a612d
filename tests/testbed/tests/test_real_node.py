"""The real nodes' configuration as rendered per node (tests/testbed/real_node.py): nothing two nodes of one machine
must not share is shared."""

import ipaddress
import json
from pathlib import Path

import pytest

from tests.testbed import k8s, real_cluster, real_node
from tests.testbed.real_node import (
    DEFAULT_NODE,
    DOWN,
    NODE_IP,
    NODE_LABEL,
    PODS_NET,
    RealNode,
    RealNodeError,
    zone_node_specs,
)

PORTS = {"kubelet": 10250, "kubelet_healthz": 10248}


def kubelet(spec, tmp_path: Path):
    return real_node.kubelet_config(spec, tmp_path / spec.name, PORTS, ca_file=tmp_path / "ca.crt",
                                    resolv_conf=tmp_path / "resolv.conf", lease_seconds=10)


def test_zone_nodes_are_named_addressed_and_labelled_per_zone():
    specs = zone_node_specs(("zone-a", "zone-b", "zone-c"))
    assert [(s.name, s.ip, s.pod_subnet, s.bridge, s.zone) for s in specs] == [
        ("real-node-a", "10.250.0.11", "10.244.251.0/24", "pinotops-br1", "zone-a"),
        ("real-node-b", "10.250.0.12", "10.244.252.0/24", "pinotops-br2", "zone-b"),
        ("real-node-c", "10.250.0.13", "10.244.253.0/24", "pinotops-br3", "zone-c"),
    ]
    assert specs[1].labels == {NODE_LABEL: "true", "topology.kubernetes.io/zone": "zone-b",
                               "topology.kubernetes.io/region": "testbed"}
    assert specs[1].gateway == "10.244.252.1"
    assert DEFAULT_NODE.labels == {NODE_LABEL: "true"}
    for spec in (DEFAULT_NODE, *specs):
        assert ipaddress.ip_network(spec.pod_subnet).subnet_of(ipaddress.ip_network(PODS_NET))
        assert len(spec.bridge) <= 15  # IFNAMSIZ
    with pytest.raises(ValueError):
        zone_node_specs(("zone-a", "zone-a"))
    with pytest.raises(ValueError):
        zone_node_specs([f"zone-{i}" for i in range(5)])


def test_every_kubelet_has_its_own_address_dirs_runtime_and_cgroup_root(tmp_path):
    specs = zone_node_specs()
    configs = [kubelet(s, tmp_path) for s in specs]
    for key in ("address", "cgroupRoot", "podLogsDir", "containerRuntimeEndpoint", "volumePluginDir"):
        assert len({c[key] for c in configs}) == 3, key
    assert [c["cgroupRoot"] for c in configs] == ["/pinotops-real-node-a", "/pinotops-real-node-b",
                                                  "/pinotops-real-node-c"]
    # The same DNS for all: CoreDNS on the shared address survives any zone's loss.
    assert {tuple(c["clusterDNS"]) for c in configs} == {(NODE_IP,)}
    assert {c["nodeLeaseDurationSeconds"] for c in configs} == {10}
    args = real_node.kubelet_args(specs[2], tmp_path / specs[2].name, "/bin/kubelet")
    assert "--hostname-override=real-node-c" in args and "--node-ip=10.250.0.13" in args
    assert (f"--node-labels={NODE_LABEL}=true,topology.kubernetes.io/zone=zone-c,"
            "topology.kubernetes.io/region=testbed") in args
    assert f"--root-dir={tmp_path / 'real-node-c' / 'kubelet' / 'root'}" in args


def test_every_containerd_and_cni_config_stays_in_its_node_dir(tmp_path):
    for spec in zone_node_specs():
        node_dir = tmp_path / spec.name
        config = real_node.containerd_config(node_dir)
        paths = [line.split('"')[1] for line in config.splitlines()
                 if line.strip().startswith(("root", "state", "address", "path", "Root", "conf_dir", "config_path"))
                 and '"' in line and line.split('"')[1]]
        assert len(paths) == 8 and all(p.startswith(f"{node_dir}/") for p in paths), paths
        conflist = real_node.cni_conflist(spec, node_dir)
        bridge = conflist["plugins"][0]
        assert conflist["name"] == f"pinotops-{spec.name}"
        assert bridge["bridge"] == spec.bridge
        assert bridge["ipam"]["ranges"] == [[{"subnet": spec.pod_subnet, "gateway": spec.gateway}]]
        assert bridge["ipam"]["dataDir"] == str(node_dir / "cni" / "ipam")


def test_one_kube_proxy_covers_every_node(tmp_path):
    specs = zone_node_specs()
    config = real_node.kube_proxy_config(specs, tmp_path, {"proxy_healthz": 1, "proxy_metrics": 2})
    assert config["clusterCIDR"] == PODS_NET
    assert config["nodePortAddresses"] == ["10.250.0.11/32", "10.250.0.12/32", "10.250.0.13/32"]
    assert config["bindAddress"] == NODE_IP and config["hostnameOverride"] == "real-node-a"


def test_a_killed_nodes_address_is_dropped_before_the_guards_see_it():
    rules = real_node.guard_rules(forwarding_was_off=False)
    lines = rules.splitlines()
    # -I 1 in this order leaves DOWN first in OUTPUT and FORWARD.
    assert lines.index(f"-I OUTPUT 1 -j {DOWN}") > lines.index(f"-I OUTPUT 1 -j {real_node.GUARD_OUT}")
    assert lines.index(f"-I FORWARD 1 -j {DOWN}") > lines.index(f"-I FORWARD 1 -j {real_node.GUARD_FWD}")
    assert f"-A {real_node.GUARD_FWD} -i pinotops-br+ -o pinotops-br+ -j RETURN" in lines
    assert real_node.down_rules(zone_node_specs()[1]) == [["-d", "10.250.0.12/32", "-j", "DROP"]]
    assert real_node.down_rules(DEFAULT_NODE) == []  # NODE_IP is CoreDNS's and Kafka's too
    assert real_node._ours_rule("-A FORWARD -i pinotops-br+ -j ACCEPT")
    assert not real_node._ours_rule("-A FORWARD -i eth0 -j ACCEPT")


def test_one_node_lives_in_the_workdir_several_each_in_their_own(tmp_path):
    single = RealNode(None, tmp_path)
    assert [(n.name, n.workdir, n.label("kubelet")) for n in single.nodes] == [("real-node-0", tmp_path, "kubelet")]
    zoned = RealNode(None, tmp_path, nodes=zone_node_specs())
    assert [n.workdir for n in zoned.nodes] == [tmp_path / f"real-node-{z}" for z in "abc"]
    assert zoned.by_zone["zone-b"].label("kubelet") == "kubelet@real-node-b"
    with pytest.raises(RealNodeError, match="distinct"):
        RealNode(None, tmp_path, nodes=(DEFAULT_NODE, DEFAULT_NODE))


def test_a_state_file_brings_its_nodes(tmp_path):
    zoned = RealNode(None, tmp_path, nodes=zone_node_specs(("zone-a", "zone-b")))
    state = {"nodes": {n.name: {"spec": vars(n.spec), "dir": str(n.workdir)} for n in zoned.nodes}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    other = RealNode(None, tmp_path)  # as `python -m tests.testbed.real_node down` makes it
    other._adopt(other._load_state())
    assert [(n.name, n.workdir) for n in other.nodes] == [(n.name, n.workdir) for n in zoned.nodes]


def test_the_control_plane_gives_each_kubelet_its_identity_and_a_lease_for_the_grace():
    assert k8s.kubelet_identity("real-node-b") == ("system:node:real-node-b", "system:nodes")
    assert k8s.lease_seconds(None) == 40
    assert k8s.lease_seconds(15) == 10  # renewed every 2.5 s: six renewals inside the grace period


def test_zone_groups_pin_one_replica_per_zone():
    assert real_cluster.zone_groups("server", "server", ("zone-a", "zone-b"), profile="small") == [
        {"name": "server-a", "role": "server", "replicas": 1, "zone": "zone-a", "profile": "small"},
        {"name": "server-b", "role": "server", "replicas": 1, "zone": "zone-b", "profile": "small"},
    ]
