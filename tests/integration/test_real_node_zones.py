"""Three real nodes in three zones (tests/testbed/real_node.py, `control_plane_with_zone_nodes`): a zone is lost and
comes back.

A control plane of its own (a silent node is Unknown after ZONE_GRACE seconds) and kubelet + containerd per zone.
An echo StatefulSet spreads one pod per zone; pods reach each other across nodes by IP and through a Service.
Then zone-b's node is killed: it goes Unknown within the grace period, its pod stops answering (the clients time
out) while the other two go on serving, and the Service drops it once the pod is marked not Ready. Revived, the
node is Ready again and its pod Running and Ready on it. Teardown leaves nothing.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.polling import wait_until
from tests.testbed.k8s import K8sControlPlane
from tests.testbed.pytest_k8s import zone_nodes_bed
from tests.testbed.real_node import (
    ECHO_IMAGE,
    ECHO_PORT,
    NODE_LABEL,
    ZONE_GRACE,
    ZONE_LABEL,
    Node,
    RealNode,
    conditions,
    read_sysctls,
)

pytestmark = pytest.mark.integration

NS = "zones-test"
ZONES = ("zone-a", "zone-b", "zone-c")
LOST = "zone-b"
TIMEOUT = 3.0  # a client's connect and read timeout


@dataclass
class Bed:
    cp: K8sControlPlane
    host: RealNode
    sysctls_before: dict[str, str]
    figures: dict[str, Any] = field(default_factory=dict)


def nodes_by_name(host: RealNode) -> dict[str, Node]:
    return {n.name: n for n in host.nodes}


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    base = tmp_path_factory.mktemp("zones")
    before = read_sysctls()
    began = time.monotonic()
    with zone_nodes_bed(base, ZONES) as (cp, host):
        print(f"\ncontrol plane + 3 nodes up in {time.monotonic() - began:.1f} s; host: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in host.timings.items()))
        for node in host.nodes:
            print(f"  {node.name} ({node.zone}, {node.ip}, pods {node.pod_subnet}): "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in node.timings.items()))
        print(f"  sysctls restored after Ready: {host.restored_after_ready}")
        cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        wait_until("the namespace's default ServiceAccount",
                   lambda: cp.get_or_none(f"/api/v1/namespaces/{NS}/serviceaccounts/default"))
        yield Bed(cp, host, before)


def pods_by_zone(bed: Bed) -> dict[str, dict[str, Any]]:
    nodes = nodes_by_name(bed.host)
    items = bed.cp.request("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Decho")["items"]
    return {nodes[p["spec"]["nodeName"]].zone: p for p in items if p["spec"].get("nodeName") in nodes}


def ready(obj: dict[str, Any] | None) -> bool:
    return bool(obj) and conditions(obj).get("Ready") == "True"


def ready_transition(cp: K8sControlPlane, node: Node) -> tuple[str, str]:
    """(status, lastTransitionTime) of a node's Ready condition."""
    obj = cp.request("GET", f"/api/v1/nodes/{node.name}")
    cond = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    return cond["status"], cond["lastTransitionTime"]


def pod_pid(bed: Bed, pod: dict[str, Any]) -> int:
    """The host pid of a pod's container (its node's containerd task state)."""
    node = nodes_by_name(bed.host)[pod["spec"]["nodeName"]]
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    return int((node.workdir / "containerd" / "state" / "io.containerd.runtime.v2.task" / "k8s.io" / cid /
                "init.pid").read_text())


# Run by nsenter in a pod's network namespace: GET each URL once, print what happened to each as JSON.
POD_CLIENT = """
import errno, http.client, json, socket, sys, time
results = []
for url in sys.argv[2:]:
    host, port = url.split(":")
    began = time.monotonic()
    conn = http.client.HTTPConnection(host, int(port), timeout=float(sys.argv[1]))
    try:
        conn.request("GET", "/")
        outcome = "ok " + conn.getresponse().read().decode().strip()
    except socket.timeout:
        outcome = "timeout"
    except OSError as exc:
        outcome = "refused" if exc.errno == errno.ECONNREFUSED else errno.errorcode.get(exc.errno, str(exc))
    finally:
        conn.close()
    results.append([url, outcome, round(time.monotonic() - began, 2)])
print(json.dumps(results))
"""


def from_pod(bed: Bed, pod: dict[str, Any], urls: list[str]) -> list[tuple[str, str, float]]:
    """(url, 'ok <hostname>' | 'timeout' | 'refused' | errno name, seconds) per URL, asked from inside `pod`."""
    proc = subprocess.run(["nsenter", f"--net=/proc/{pod_pid(bed, pod)}/ns/net", sys.executable, "-c", POD_CLIENT,
                           str(TIMEOUT), *urls], capture_output=True, text=True, timeout=30 + 2 * TIMEOUT * len(urls),
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return [tuple(r) for r in json.loads(proc.stdout)]


def service_url(bed: Bed) -> str:
    service = bed.cp.request("GET", f"/api/v1/namespaces/{NS}/services/echo")
    return f"{service['spec']['clusterIP']}:80"


def pod_url(pod: dict[str, Any]) -> str:
    return f"{pod['status']['podIP']}:{ECHO_PORT}"


# -- tests ----------------------------------------------------------------------


def test_three_nodes_are_ready_each_in_its_zone(bed: Bed):
    seen = {}
    for node in bed.host.nodes:
        obj = bed.cp.request("GET", f"/api/v1/nodes/{node.name}")
        assert ready(obj) and not obj["spec"].get("taints"), obj["status"]["conditions"]
        labels = obj["metadata"]["labels"]
        assert labels[NODE_LABEL] == "true"
        seen[node.name] = labels[ZONE_LABEL]
        assert {"type": "InternalIP", "address": node.ip} in obj["status"]["addresses"]
    assert seen == {"real-node-a": "zone-a", "real-node-b": "zone-b", "real-node-c": "zone-c"}
    assert set(bed.host.by_zone) == set(ZONES)
    # The kwok nodes of the same zones are still there, and never carry the real node label.
    kwok = [n for n in bed.cp.request("GET", "/api/v1/nodes")["items"] if n["metadata"]["name"].startswith("kwok-")]
    assert len(kwok) == 6 and all(NODE_LABEL not in n["metadata"]["labels"] for n in kwok)


def test_a_statefulset_spreads_one_pod_per_zone(bed: Bed):
    cp = bed.cp
    for name, spec in (("echo-pods", {"clusterIP": "None"}), ("echo", {})):
        cp.request("POST", f"/api/v1/namespaces/{NS}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {**spec, "selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": ECHO_PORT}]},
        })
    began = time.monotonic()
    cp.request("POST", f"/apis/apps/v1/namespaces/{NS}/statefulsets", {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "echo"},
        "spec": {
            "serviceName": "echo-pods", "replicas": 3, "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "echo"}},
            "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {
                "nodeSelector": {NODE_LABEL: "true"},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE_LABEL,
                                               "whenUnsatisfiable": "DoNotSchedule",
                                               "labelSelector": {"matchLabels": {"app": "echo"}}}],
                "terminationGracePeriodSeconds": 1,
                "automountServiceAccountToken": False,
                "containers": [{
                    "name": "echo", "image": ECHO_IMAGE, "imagePullPolicy": "Never", "args": [str(ECHO_PORT)],
                    "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "ports": [{"containerPort": ECHO_PORT}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": ECHO_PORT}, "periodSeconds": 1},
                }],
            }},
        },
    })

    def all_ready() -> dict[str, dict[str, Any]] | None:
        pods = pods_by_zone(bed)
        return pods if len(pods) == 3 and all(map(ready, pods.values())) else None

    pods = wait_until("an echo pod Ready in every zone", all_ready, 90)
    print(f"\n3 echo pods Ready {time.monotonic() - began:.1f} s after create: "
          + ", ".join(f"{z} {p['metadata']['name']} {p['status']['podIP']}" for z, p in sorted(pods.items())))
    for zone, pod in pods.items():
        node = bed.host.by_zone[zone]
        assert pod["status"]["hostIP"] == node.ip
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(node.pod_subnet)
        # Under its own node's cgroup root (a kubelet kills what it finds under its kubepods and does not know).
        cgroups = Path(f"/proc/{pod_pid(bed, pod)}/cgroup").read_text()
        assert f":{node.spec.cgroup_root}/kubepods/" in cgroups, cgroups
        assert pod_pid(bed, pod) in node.processes()


def test_pods_reach_each_other_across_nodes_by_ip_and_through_a_service(bed: Bed):
    pods = pods_by_zone(bed)
    hostnames = {z: p["metadata"]["name"] for z, p in pods.items()}
    for zone, pod in pods.items():
        others = [z for z in ZONES if z != zone]
        results = from_pod(bed, pod, [pod_url(pods[z]) for z in others])
        assert [r[1] for r in results] == [f"ok {hostnames[z]}" for z in others], (zone, results)
    # Through the ClusterIP (kube-proxy), from zone-a's pod: every zone's pod answers. kube-proxy learns the
    # endpoints some time after the pods are Ready (the EndpointSlice controller, then kube-proxy's own sync, both
    # slower on a busy host), so ask until all three have answered; a refusal or a timeout only while it learns.
    url = service_url(bed)
    every = {f"ok {h}" for h in hostnames.values()}
    answered: set[str] = set()

    def every_pod_answered() -> bool:
        answered.update(o for o in (r[1] for r in from_pod(bed, pods["zone-a"], [url] * 6)) if o in every)
        return answered == every

    try:
        wait_until("every pod answering through the Service", every_pod_answered, 60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; answered: {sorted(answered)}") from None
    # Once it has: every answer comes from one of them, none fails.
    outcomes = {r[1] for r in from_pod(bed, pods["zone-a"], [url] * 12)}
    assert outcomes <= every, outcomes


def test_a_killed_node_goes_unknown_and_its_pod_stops_answering(bed: Bed):
    cp = bed.cp
    node = bed.host.by_zone[LOST]
    pods = pods_by_zone(bed)
    lost_pod, client = pods[LOST], pods["zone-a"]
    survivors = {z: p["metadata"]["name"] for z, p in pods.items() if z != LOST}
    ready_since = {z: ready_transition(cp, bed.host.by_zone[z]) for z in survivors}

    containers = {z: p["status"]["containerStatuses"][0]["containerID"] for z, p in pods.items()}
    bed.figures["survivor_containers"] = {z: c for z, c in containers.items() if z != LOST}

    killed = time.monotonic()
    node.kill()
    print(f"\nkill(): processes gone in {node.timings['kill'] * 1000:.0f} ms (frozen first: {node.froze_on_kill}), "
          f"with the reboot's losses {node.timings['kill_and_reboot']:.2f} s")
    assert node.processes() == [] and node.down
    # Its bridge is a void: no ports, no ARP (IFF_NOARP).
    bridge = Path(f"/sys/class/net/{node.spec.bridge}")
    assert not list((bridge / "brif").iterdir()) and int((bridge / "flags").read_text(), 16) & 0x80

    # Straight after the kill: the lost pod does not answer; the client waits its whole timeout.
    results = from_pod(bed, client, [pod_url(lost_pod), *(pod_url(pods[z]) for z in survivors)])
    print(f"from {client['metadata']['name']} right after the kill: {results}")
    assert results[0][1] == "timeout" and results[0][2] >= TIMEOUT - 0.1, results
    assert [r[1] for r in results[1:]] == [f"ok {h}" for h in survivors.values()], results
    # From the host (the way kube-proxy's and Ansible's clients come): a timeout too.
    began = time.monotonic()
    conn = http.client.HTTPConnection(lost_pod["status"]["podIP"], ECHO_PORT, timeout=TIMEOUT)
    with pytest.raises(TimeoutError):
        conn.request("GET", "/")
    conn.close()
    print(f"from the host: timed out after {time.monotonic() - began:.1f} s")
    # Through the Service, still sending a third of the connections to the lost pod: those time out (a
    # retransmitted SYN goes where the first went), the others are answered at once.
    service = from_pod(bed, client, [service_url(bed)] * 6)
    print(f"through the Service before the node is Unknown: {[f'{r[1]} {r[2]} s' for r in service]}")
    assert {r[1] for r in service} <= {"timeout", *(f"ok {h}" for h in survivors.values())}, service
    assert all(r[2] < 1 for r in service if r[1] != "timeout"), service

    def not_ready() -> dict[str, Any] | None:
        obj = cp.request("GET", f"/api/v1/nodes/{node.name}")
        return None if ready(obj) else obj

    obj = wait_until(f"{node.name} not Ready", not_ready, ZONE_GRACE + 30)
    unknown_after = time.monotonic() - killed
    print(f"{node.name} Ready={conditions(obj)['Ready']} {unknown_after:.1f} s after the kill "
          f"(grace {ZONE_GRACE} s); taints {[t['key'] for t in obj['spec'].get('taints', [])]}")
    bed.figures["unknown_after"] = unknown_after
    assert unknown_after <= ZONE_GRACE + 5

    # The node lifecycle controller marks its pod not Ready, and the Service stops sending there.
    wait_until("the lost pod not Ready",
               lambda: not ready(cp.get_or_none(f"/api/v1/namespaces/{NS}/pods/{lost_pod['metadata']['name']}")), 30)
    wait_until("the Service answered only by the surviving pods",
               lambda: {r[1] for r in from_pod(bed, client, [service_url(bed)] * 6)}
               <= {f"ok {h}" for h in survivors.values()}, 30)
    print(f"Service answers only from {sorted(survivors.values())} "
          f"{time.monotonic() - killed:.1f} s after the kill")
    # The other zones' nodes never left Ready.
    assert {z: ready_transition(cp, bed.host.by_zone[z]) for z in survivors} == ready_since


def test_the_revived_node_runs_its_pod_again(bed: Bed):
    cp = bed.cp
    node = bed.host.by_zone[LOST]
    began = time.monotonic()
    node.revive()
    print(f"\nrevive(): {node.name} Ready and untainted in {node.timings['revive']:.1f} s "
          f"(kubelet Ready after {node.timings['revive_kubelet_ready']:.1f} s)")

    def back() -> dict[str, Any] | None:
        pod = pods_by_zone(bed).get(LOST)
        return pod if ready(pod) else None

    pod = wait_until(f"the echo pod on {node.name} Ready again", back, 90)
    print(f"{pod['metadata']['name']} Ready on {node.name} {time.monotonic() - began:.1f} s after revive() began, "
          f"restarts {pod['status']['containerStatuses'][0]['restartCount']}, IP {pod['status']['podIP']}")
    assert pod["spec"]["nodeName"] == node.name
    results = from_pod(bed, pods_by_zone(bed)["zone-a"], [pod_url(pod)])
    assert results[0][1] == f"ok {pod['metadata']['name']}", results
    assert not cp.request("GET", f"/api/v1/nodes/{node.name}")["spec"].get("taints")
    # The other zones' pods ran on untouched: no kubelet killed another node's pod.
    after = {z: p["status"]["containerStatuses"][0] for z, p in pods_by_zone(bed).items() if z != LOST}
    assert {z: s["containerID"] for z, s in after.items()} == bed.figures["survivor_containers"]
    assert {s["restartCount"] for s in after.values()} == {0}


def test_stop_leaves_nothing_behind(bed: Bed):
    rss = {}
    for name, pid in bed.host.pids.items():
        status = Path(f"/proc/{pid}/status").read_text()
        rss[name] = next(int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    print(f"\nRSS (MiB) with an echo pod per node: {rss}")
    assert bed.host.leftovers(), "running nodes leave processes, links and chains: leftovers() must see them"
    bed.host.stop()
    print(f"teardown {bed.host.timings['stop']:.1f} s; sysctls restored at stop: {bed.host.restored_at_stop}")
    assert bed.host.leftovers() == []
    after = read_sysctls()
    assert {k: after.get(k) for k in bed.sysctls_before} == bed.sysctls_before
