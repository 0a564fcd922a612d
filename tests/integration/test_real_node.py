"""A real node in the test bed: kubelet + containerd run pods next to the kwok nodes (tests/testbed/real_node.py).

The module starts a control plane of its own (real_node=True) and the real node, runs pods on it, resolves
them through CoreDNS and reaches a Service through kube-proxy, then tears the node down and checks that
nothing is left on the machine and that every sysctl is back to its value from before the start.
"""

from __future__ import annotations

import http.client
import inspect
import ipaddress
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.polling import wait_until
from tests.testbed.k8s import K8sControlPlane
from tests.testbed.pytest_k8s import real_node_bed
from tests.testbed.real_node import (
    ECHO_IMAGE,
    ECHO_PORT,
    NODE_IP,
    NODE_LABEL,
    NODE_NAME,
    PAUSE_IMAGE,
    POD_SUBNET,
    RealNode,
    read_sysctls,
)

pytestmark = pytest.mark.integration

NS = "real-node-test"


@dataclass
class Bed:
    cp: K8sControlPlane
    node: RealNode
    sysctls_before: dict[str, str]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    base = tmp_path_factory.mktemp("real-node")
    before = read_sysctls()
    with real_node_bed(base) as (cp, node):
        print(f"\nreal node: {', '.join(f'{k} {v:.1f} s' for k, v in node.timings.items())}; "
              f"sysctls restored after Ready: {node.restored_after_ready}")
        cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        wait_until("the namespace's default ServiceAccount",
                   lambda: cp.get_or_none(f"/api/v1/namespaces/{NS}/serviceaccounts/default"))
        yield Bed(cp, node, before)


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


def ready_pod(cp: K8sControlPlane, ns: str, name: str) -> dict[str, Any] | None:
    pod = cp.get_or_none(f"/api/v1/namespaces/{ns}/pods/{name}")
    return pod if pod and conditions(pod).get("Ready") == "True" else None


def on_real_node(spec: dict[str, Any]) -> dict[str, Any]:
    return {"nodeSelector": {NODE_LABEL: "true"}, "terminationGracePeriodSeconds": 1, **spec}


def container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    # Images are imported into containerd, never pulled.
    return {"name": name, "image": image, "imagePullPolicy": "Never", **extra}


# -- a stdlib DNS client (A records over UDP) ----------------------------------


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:  # compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def dns_a(name: str, server: str = NODE_IP) -> tuple[int, list[str]]:
    """(rcode, A records) for `name`, asked of `server`:53."""
    qid = secrets.randbelow(1 << 16)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    query = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!2H", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(query, (server, 53))
        data, _peer = sock.recvfrom(4096)
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack("!6H", data[:12])
    assert rid == qid
    offset = 12
    for _question in range(qdcount):
        offset = _skip_name(data, offset) + 4
    addresses = []
    for _answer in range(ancount):
        offset = _skip_name(data, offset)
        rtype, _cls, _ttl, rdlength = struct.unpack("!2HIH", data[offset:offset + 10])
        offset += 10
        if rtype == 1:
            addresses.append(socket.inet_ntoa(data[offset:offset + rdlength]))
        offset += rdlength
    return flags & 0xF, addresses


def pod_pid(bed: Bed, ns: str, name: str) -> int:
    """The host pid of the first container of a pod on the real node (containerd's task state)."""
    pod = bed.cp.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    tasks = bed.node.workdir / "containerd" / "state" / "io.containerd.runtime.v2.task" / "k8s.io"
    return int((tasks / cid / "init.pid").read_text())


# Run by nsenter in a pod's network namespace: resolve a Service through the pods' nameserver, GET it.
POD_CLIENT = "\n".join([
    "import http.client, secrets, socket, struct, sys",
    f"NODE_IP = {NODE_IP!r}",
    inspect.getsource(_skip_name),
    inspect.getsource(dns_a),
    "rcode, addresses = dns_a(sys.argv[1])",
    "conn = http.client.HTTPConnection(addresses[0], 80, timeout=3)",
    "conn.request('GET', '/')",
    "print(addresses[0], conn.getresponse().read().decode(), end='')",
])


# -- tests ----------------------------------------------------------------------


def test_the_real_node_is_ready_beside_the_kwok_nodes(bed: Bed):
    node = bed.cp.request("GET", f"/api/v1/nodes/{NODE_NAME}")
    assert conditions(node)["Ready"] == "True"
    assert node["metadata"]["labels"][NODE_LABEL] == "true"
    assert not node["spec"].get("taints")
    assert {"type": "InternalIP", "address": NODE_IP} in node["status"]["addresses"]
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.34.10"
    assert info["containerRuntimeVersion"].startswith("containerd://1.6.")
    kwok = [n for n in bed.cp.request("GET", "/api/v1/nodes")["items"] if n["metadata"]["name"].startswith("kwok-")]
    assert len(kwok) == 6
    assert all(conditions(n)["Ready"] == "True" and not n["spec"].get("taints") for n in kwok)
    # kwok still plays the kubelet of its own nodes.
    bed.cp.request("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-kwok"},
        "spec": {"nodeSelector": {"type": "kwok"}, "containers": [container("c", "testbed/none")]},
    })
    pod = wait_until("the kwok pod Ready", lambda: ready_pod(bed.cp, NS, "on-kwok"), 30)
    assert pod["spec"]["nodeName"].startswith("kwok-")


def test_a_pause_pod_runs_on_the_real_node(bed: Bed):
    began = time.monotonic()
    bed.cp.request("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pause"},
        "spec": on_real_node({"containers": [container("pause", PAUSE_IMAGE)]}),
    })
    pod = wait_until("the pause pod Ready", lambda: ready_pod(bed.cp, NS, "pause"), 60)
    print(f"\npause pod Ready {time.monotonic() - began:.1f} s after create")
    assert pod["spec"]["nodeName"] == NODE_NAME
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["hostIP"] == NODE_IP
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_SUBNET)
    (status,) = pod["status"]["containerStatuses"]
    assert "running" in status["state"]
    assert status["containerID"].startswith("containerd://")


def test_statefulset_pods_resolve_through_coredns(bed: Bed):
    cp = bed.cp
    cp.request("POST", f"/api/v1/namespaces/{NS}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "web", "port": 80}]},
    })
    cp.request("POST", f"/apis/apps/v1/namespaces/{NS}/statefulsets", {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web", "replicas": 2, "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": on_real_node({"containers": [container("pause", PAUSE_IMAGE)]})},
        },
    })
    pods = [wait_until(f"web-{i} Ready", lambda i=i: ready_pod(cp, NS, f"web-{i}"), 90) for i in range(2)]
    for pod in pods:
        name = f"{pod['metadata']['name']}.web.{NS}.svc.cluster.local"
        rcode, addresses = wait_until(f"an A record for {name}",
                                      lambda name=name: (r := dns_a(name))[1] and r, 30)
        assert (rcode, addresses) == (0, [pod["status"]["podIP"]])
    _rcode, headless = dns_a(f"web.{NS}.svc.cluster.local")
    assert sorted(headless) == sorted(p["status"]["podIP"] for p in pods)
    # cluster.local only: nothing is forwarded anywhere.
    for outside in ("example.com", "pinotops.test"):
        rcode, addresses = dns_a(outside)
        assert addresses == [] and rcode != 0, (outside, rcode, addresses)


def test_a_clusterip_service_reaches_an_echo_pod_through_kube_proxy(bed: Bed):
    cp = bed.cp
    cp.request("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo", "labels": {"app": "echo"}},
        "spec": on_real_node({"containers": [container(
            "echo", ECHO_IMAGE,
            args=[str(ECHO_PORT)],
            env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            ports=[{"containerPort": ECHO_PORT}],
            readinessProbe={"httpGet": {"path": "/", "port": ECHO_PORT}, "periodSeconds": 1},
        )]}),
    })
    service = cp.request("POST", f"/api/v1/namespaces/{NS}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": ECHO_PORT}]},
    })
    cluster_ip = service["spec"]["clusterIP"]
    wait_until("echo Ready (its HTTP readiness probe passes)", lambda: ready_pod(cp, NS, "echo"), 60)
    assert dns_a(f"echo.{NS}.svc.cluster.local") == (0, [cluster_ip])

    def get() -> str:
        # From the node address, never from the machine's own interface address.
        conn = http.client.HTTPConnection(cluster_ip, 80, timeout=3, source_address=(NODE_IP, 0))
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            return resp.read().decode() if resp.status == 200 else ""
        except OSError:
            return ""
        finally:
            conn.close()

    assert wait_until(f"http://{cluster_ip}/ through kube-proxy", get, 30) == "echo\n"
    # The apiserver reaches the kubelet (InternalIP, its client certificate, webhook authz) for logs.
    log = cp.request("GET", f"/api/v1/namespaces/{NS}/pods/echo/log")
    assert "listening on" in log

    # From another pod: its nameserver is CoreDNS at the node address, the Service is forwarded to echo.
    pid = pod_pid(bed, NS, "pause")
    resolv = Path(f"/proc/{pid}/root/etc/resolv.conf").read_text()
    assert f"nameserver {NODE_IP}" in resolv and f"search {NS}.svc.cluster.local" in resolv, resolv
    proc = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", POD_CLIENT,
                           f"echo.{NS}.svc.cluster.local"], capture_output=True, text=True, timeout=30, check=False)
    assert (proc.returncode, proc.stdout) == (0, f"{cluster_ip} echo\n"), proc.stderr


def test_stop_leaves_nothing_behind(bed: Bed):
    rss = {}
    for name, pid in bed.node.pids.items():
        status = Path(f"/proc/{pid}/status").read_text()
        rss[name] = next(int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    print(f"\nRSS (MiB) with 4 pods on the node: {rss}")
    assert bed.node.leftovers(), "a running node leaves processes, links and chains: leftovers() must see them"
    bed.node.stop()
    print(f"teardown {bed.node.timings['stop']:.1f} s; sysctls restored at stop: {bed.node.restored_at_stop}")
    assert bed.node.leftovers() == []
    after = read_sysctls()
    assert {k: after.get(k) for k in bed.sysctls_before} == bed.sysctls_before
