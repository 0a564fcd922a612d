"""Real Kubernetes nodes for the test bed: pods really run.

kubelet and kube-proxy (the control plane's release, built by `build_k8s.sh --node`), containerd, runc and the
CNI plugins from Debian, and CoreDNS (built from the Go module proxy, serving `cluster.local` only) join the test
bed's own control plane (k8s.py, started with `real_node=True`) next to the kwok nodes (kwok only manages the
nodes it created). Every node is labelled `testbed.pinotops.io/real-node=true` and has no taints.

API. `RealNode(cp, workdir, nodes=...)` is the host side (the node link, guard chains, one CoreDNS, one
kube-proxy, the sysctls) and its kubelets, `host.nodes` (each a `Node`: containerd + kubelet):

* one node, the default (the single-node tests, `make demo`, `make bench`): `real-node-0` at NODE_IP, pods on
  POD_SUBNET (bridge `pinotops-br0`); its directories are the workdir itself.
* nodes in zones, `nodes=zone_node_specs(("zone-a", "zone-b", "zone-c"))`: `real-node-a` at 10.250.0.11 with pods
  on 10.244.251.0/24 (bridge `pinotops-br1`), `real-node-b` at .12 / 10.244.252.0/24, ...; also labelled
  `topology.kubernetes.io/zone=<zone>` and `topology.kubernetes.io/region=testbed`; directories `workdir/<name>`.
  `control_plane_with_zone_nodes(base, zones)` starts a control plane for them (a silent node is Unknown after
  ZONE_GRACE seconds, not 50) and yields `(cp, host)`; `host.by_zone["zone-a"]` is a Node.
* `Node.kill()`: abrupt. The node is cut off first: its address DROPs (iptables), its bridge turns into a void
  that answers no ARP (what is sent to its pods vanishes after conntrack, as on a wire to a dead machine: peers
  and clients time out, nobody is refused, a Service's retries go to the same dead endpoint). Then its
  kubelet, containerd, shims and every process of its pods are frozen (its freezer cgroup) and SIGKILLed
  together; then what a reboot loses goes: pod network namespaces and veths, tmpfs volumes, containerd's state
  and runc's root, the IPAM records, the pod cgroups. The Node object, kubelet root dir and containerd root
  (images) stay. `Node.revive()`: the same containerd and kubelet
  again (same name, directories, ports), returns once the Node is Ready and untainted; the kubelet then starts
  the pods bound to it again. `Node.ip`, `.pod_subnet`, `.zone`, `.name`, `.timings`.
* `host.import_image(archive, ref)` imports into every node's containerd.

Network: nothing leaves the machine. NODE_IP (10.250.0.1) and the zone nodes' addresses live on a dummy link of
the test bed's own (`pinotops0`); NODE_IP is also where CoreDNS (the pods' nameserver) and kube-proxy listen, so
both survive a zone's loss. Each node's pods sit on a bridge of its own; the host routes between the bridges.
The apiserver stays on 127.0.0.1: the kubelets, kube-proxy and CoreDNS run on the host and reach it there; pods
cannot (the `kubernetes` Service has no endpoints). While the nodes run, the guard chains PINOTOPS-GUARD-OUT/-FWD
refuse any packet to the test bed's address ranges (services, pods, kwok node IPs, node net) that would not stay
on loopback or a bridge of ours, and any forwarding but bridge to bridge, so nothing (a ClusterIP backed by a
kwok pod, a pod's packet to the outside) can be routed off the machine. containerd resolves every registry to a
closed port on 127.0.0.1: images are built here and imported, never pulled.

Several kubelets on one machine: each has its own name and static token, address, ports, root and cert dir,
pod log dir, containerd (root, state, sockets, runc root), CNI config and IPAM dir, and cgroup root
(`/pinotops-<name>`: a kubelet kills the pods under its kubepods cgroup that it does not know).

Images: a static C `pause` of our own as `registry.k8s.io/pause:3.10` (the sandbox image) and a static C
HTTP responder as `testbed.pinotops.io/echo:1` (answers its hostname on $POD_IP:<its argument>), packaged with
umoci + skopeo, cached by source hash, imported with `ctr images import`.

Each kubelet writes VM-wide sysctls when it starts (vm.overcommit_memory=1, kernel.panic=10,
kernel.panic_on_oops=1); they are saved before start and restored as soon as the nodes are Ready (after a
revive too), all saved sysctls again at stop. `stop()` works from any process (workdir/state.json) and leaves
nothing behind; `leftovers()` lists what is still there.

Stdlib only. CLI: python -m tests.testbed.real_node down|leftovers --workdir DIR
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import glob
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.testbed.k8s import (
    POD_CIDR,
    REAL_NODE_IDENTITIES,
    REAL_NODE_NAME,
    REGION,
    SERVICE_CIDR,
    ZONES,
    K8sControlPlane,
    _proc_alive,
    kubelet_token_key,
    spawn,
    wait_for,
)
from tests.testbed.ports import free_ports
from tests.testbed.progress import last_line, run_with_progress

BUILD_SCRIPT = Path(__file__).resolve().with_name("build_k8s.sh")
CACHE_DIR = Path(os.environ.get("PINOTOPS_TESTBED_CACHE", Path.home() / ".cache" / "pinotops-testbed"))

NODE_NAME = REAL_NODE_NAME
NODE_LABEL = "testbed.pinotops.io/real-node"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
# The single node's address; in every bed also the shared one of CoreDNS and kube-proxy.
NODE_IP = "10.250.0.1"
NODE_NET = "10.250.0.0/16"
LINK_PREFIX = "pinotops"  # every link the test bed makes is named so
NODE_LINK = "pinotops0"
# A dummy link where the kernel has the driver, else (as on this machine kind) one end of a veth pair whose
# other end stays unused: either way a link of our own, and its addresses are local.
NODE_LINK_PEER = "pinotops0-peer"
BRIDGE = "pinotops-br0"
BRIDGES = "pinotops-br+"  # iptables' wildcard for every node's bridge
# Inside the control plane's pod CIDR, far from the start of it, where kwok hands out its fake pod IPs.
POD_SUBNET = "10.244.255.0/24"
PODS_NET = "10.244.248.0/21"  # every node's pod subnet: kube-proxy's cluster CIDR
KWOK_NODE_NET = "10.1.0.0/16"  # k8s.bootstrap_objects gives the kwok nodes 10.1.<zone>.<10+i>
GUARDED_NETS = (SERVICE_CIDR, POD_CIDR, KWOK_NODE_NET, NODE_NET)
ZONE_GRACE = 15  # seconds until the control plane calls a silent zone node Unknown
CLUSTER_DOMAIN = "cluster.local"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
ECHO_IMAGE = "testbed.pinotops.io/echo:1"
ECHO_PORT = 8080  # the echo image's default port
CNI_BIN_DIR = "/usr/lib/cni"
RUNC = "/usr/sbin/runc"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
SHIM = "/usr/bin/containerd-shim-runc-v2"

# Debian package -> a file it installs.
PACKAGES = {
    "containerd": CONTAINERD,
    "runc": RUNC,
    "containernetworking-plugins": f"{CNI_BIN_DIR}/bridge",
    "iptables": "/usr/sbin/iptables",
    "conntrack": "/usr/sbin/conntrack",
    "socat": "/usr/bin/socat",
    "umoci": "/usr/bin/umoci",
    "skopeo": "/usr/bin/skopeo",
    "nftables": "/usr/sbin/nft",  # to drop the nf_tables tables iptables-nft created, once empty
}
# Registries that get their own hosts.toml besides `_default` (all of them point at a closed local port).
REGISTRIES = ("_default", "registry.k8s.io", "docker.io", "quay.io", "ghcr.io", "gcr.io")

# Written by the components whatever their configuration says; removed at stop if absent at start.
GLOBAL_PATHS = (
    "/run/containerd",  # shim sockets in /run/containerd/s, client fifos in /run/containerd/fifo
    "/run/containerd/s",
    "/run/containerd/fifo",
    "/var/lib/cni",  # libcni's result cache
    "/var/lib/cni/results",
    "/var/lib/kubelet",  # the device manager's socket dir is fixed
    "/var/lib/kubelet/device-plugins",
    "/var/log/containers",  # the kubelet's legacy log symlinks
    "/var/log/pods",
    "/opt/containerd",
    "/opt/cni",
    "/etc/cni",
    "/usr/libexec/kubernetes",
    "/run/netns",
    "/etc/kubernetes",
)

# Saved before start, compared and restored after Ready and at stop.
SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
)
SYSCTL_GLOBS = (
    "net/bridge/*",
    "net/netfilter/nf_conntrack_*",
    "net/ipv4/conf/all/*",
    "net/ipv4/conf/default/*",
    "net/ipv6/conf/all/*",
    "net/ipv6/conf/default/*",
)
SYSCTL_VOLATILE = {"net.netfilter.nf_conntrack_count"}
# Pods reach Services (DNAT to another pod on the bridge) only by forwarding: these stay as the
# bridge plugin set them while the node runs, and are restored at stop.
SYSCTL_NODE_NEEDS = {"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding",
                     "net.ipv4.conf.all.accept_redirects"}  # the kernel clears it whenever forwarding goes on

CHAIN_PREFIXES = ("KUBE-", "CNI-", "PINOTOPS-")
GUARD_OUT = "PINOTOPS-GUARD-OUT"
GUARD_FWD = "PINOTOPS-GUARD-FWD"
GUARD_POST = "PINOTOPS-GUARD-POST"
DOWN = "PINOTOPS-DOWN"  # DROPs to the killed nodes' pods and addresses
IPTABLES_TOOLS = ("iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy")

SHARED_COMPONENTS = ("coredns", "kube-proxy")
NODE_COMPONENTS = ("containerd", "kubelet")


@dataclass(frozen=True)
class NodeSpec:
    """What differs between the real nodes of one machine (their directories follow from the bed)."""

    name: str
    ip: str
    pod_subnet: str  # a /24 inside PODS_NET; its first address is the bridge's
    bridge: str
    zone: str = ""

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.pod_subnet)[1])

    @property
    def cgroup_root(self) -> str:
        # A kubelet SIGKILLs the pods under its kubepods cgroup that it does not know: one root per node.
        return f"/pinotops-{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        labels = {NODE_LABEL: "true"}
        if self.zone:
            labels.update({ZONE_LABEL: self.zone, REGION_LABEL: REGION})
        return labels


DEFAULT_NODE = NodeSpec(NODE_NAME, NODE_IP, POD_SUBNET, BRIDGE)


def zone_node_specs(zones: Sequence[str] = ZONES) -> tuple[NodeSpec, ...]:
    """A node per zone: `real-node-a` for `zone-a` at 10.250.0.11, pods on 10.244.251.0/24, bridge pinotops-br1..."""
    if not 1 <= len(zones) <= 4 or len(set(zones)) != len(zones):
        raise ValueError(f"one to four distinct zones, not {list(zones)}")
    return tuple(
        NodeSpec(f"real-node-{zone.removeprefix('zone-')}", f"10.250.0.{11 + i}", f"10.244.{251 + i}.0/24",
                 f"pinotops-br{i + 1}", zone)
        for i, zone in enumerate(zones)
    )


class RealNodeError(RuntimeError):
    """The real node could not be set up, started or torn down."""


def _run(argv: list[str], *, check: bool = True, input_text: str | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, input=input_text, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RealNodeError(f"{shlex.join(argv)} exited with {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


# --------------------------------------------------------------------------
# Packages, binaries, images


def _installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and proc.stdout.strip() == "install ok installed"


def _candidates(packages: list[str]) -> dict[str, str]:
    """package -> apt-cache policy's Candidate ('' when apt knows no candidate)."""
    out = _run(["apt-cache", "policy", *packages], check=False)
    found: dict[str, str] = {}
    current = ""
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif current and line.strip().startswith("Candidate:"):
            value = line.split(":", 1)[1].strip()
            found[current] = "" if value == "(none)" else value
    return {p: found.get(p, "") for p in packages}


def ensure_node_packages(log_dir: Path | None = None) -> list[str]:
    """apt-get install whatever of PACKAGES is missing (apt-get update first if apt knows no candidate).

    Returns the packages installed now ([] when all were there).
    """
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return []
    log_dir = log_dir or CACHE_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    if not all(_candidates(missing).values()):
        if run_with_progress(["apt-get", "update"], log_dir / "apt-update.log", "apt-get update", log_dir) != 0:
            raise RealNodeError(f"apt-get update failed: {last_line(log_dir / 'apt-update.log')}")
        unknown = [p for p, c in _candidates(missing).items() if not c]
        if unknown:
            raise RealNodeError(f"apt knows no candidate for {unknown}")
    log = log_dir / "apt-install.log"
    argv = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends",
            "-o", "DPkg::Lock::Timeout=300", *missing]
    if run_with_progress(argv, log, f"installing {' '.join(missing)}", log_dir) != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RealNodeError(f"apt-get install {' '.join(missing)} failed:\n{tail}")
    still = [p for p in missing if not _installed(p)]
    if still:
        raise RealNodeError(f"still not installed after apt-get install: {still}")
    return missing


def ensure_node_binaries() -> dict[str, str]:
    """kubelet, kube-proxy, CoreDNS (and the control plane's binaries): name -> path, *_version keys."""
    argv = ["bash", str(BUILD_SCRIPT), "--node", "--print-paths"]
    proc = subprocess.run([*argv, "--check"], capture_output=True, text=True, check=False)
    if proc.returncode == 3:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        log = CACHE_DIR / "k8s-node-build.log"
        rc = run_with_progress(argv, log, "building kubelet, kube-proxy and CoreDNS", CACHE_DIR,
                               detail=lambda path: last_line(path, "build_k8s: "))
        if rc != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise RealNodeError(f"{BUILD_SCRIPT} --node exited with {rc}:\n{tail}")
        proc = subprocess.run([*argv, "--check"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RealNodeError(f"{BUILD_SCRIPT} --node --check exited with {proc.returncode}: {proc.stderr.strip()}")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


PAUSE_C = r"""
/* The sandbox's first process: holds the pod's namespaces, reaps orphans, exits on INT/TERM. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction term = {0};
    struct sigaction child = {0};
    term.sa_handler = on_term;
    sigaction(SIGINT, &term, NULL);
    sigaction(SIGTERM, &term, NULL);
    child.sa_handler = on_child;
    child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &child, NULL);
    for (;;) {
        pause();
    }
}
"""

ECHO_C = r"""
/* Answers every TCP connection on $POD_IP:PORT (argv[1], default 8080) with an HTTP 200 whose body is the
   hostname. The port is an argument: an ECHO_PORT variable would be shadowed by a Service named "echo". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    const char *ip = getenv("POD_IP");
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    char host[256] = {0};
    char body[320];
    char reply[640];
    struct sockaddr_in addr;
    int one = 1;
    int fd;
    int body_len;
    int reply_len;

    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (ip == NULL || inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo: POD_IP is unset or not an IPv4 address\n");
        return 2;
    }
    gethostname(host, sizeof host - 1);
    body_len = snprintf(body, sizeof body, "%s\n", host);
    reply_len = snprintf(reply, sizeof reply,
                         "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                         "Connection: close\r\n\r\n%s", body_len, body);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
        perror("echo: listen");
        return 1;
    }
    printf("echo: %s listening on %s:%d\n", host, ip, port);
    fflush(stdout);
    for (;;) {
        char request[2048];
        int conn = accept(fd, NULL, NULL);
        if (conn < 0) {
            continue;
        }
        (void)read(conn, request, sizeof request);
        (void)write(conn, reply, (size_t)reply_len);
        close(conn);
    }
}
"""

# name -> (reference, C source, user)
IMAGES = {
    "pause": (PAUSE_IMAGE, PAUSE_C, "65535:65535"),
    "echo": (ECHO_IMAGE, ECHO_C, "65534:65534"),
}


def _tool_versions() -> str:
    return "|".join(_run([tool, "--version"], check=False).splitlines()[0] if shutil.which(tool) else tool
                    for tool in ("gcc", "umoci", "skopeo"))


def ensure_images() -> dict[str, Path]:
    """OCI archives of IMAGES, built once per source (cached under CACHE_DIR/images): reference -> archive."""
    archives = {}
    versions = _tool_versions()
    for name, (ref, source, user) in IMAGES.items():
        key = hashlib.sha256("\0".join((ref, source, user, versions)).encode()).hexdigest()[:16]
        final = CACHE_DIR / "images" / f"{name}-{key}"
        archive = final / f"{name}.tar"
        if not archive.is_file():
            _build_image(name, ref, source, user, final)
        archives[ref] = archive
    return archives


def _build_image(name: str, ref: str, source: str, user: str, final: Path) -> None:
    work = final.with_name(final.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / f"{name}.c").write_text(source)
    _run(["gcc", "-static", "-Os", "-s", "-Wall", "-o", str(work / name), str(work / f"{name}.c")])
    layout = f"{work / 'oci'}:{name}"
    _run(["umoci", "init", "--layout", str(work / "oci")])
    _run(["umoci", "new", "--image", layout])
    _run(["umoci", "insert", "--image", layout, str(work / name), f"/{name}"])
    _run(["umoci", "config", "--image", layout, f"--config.entrypoint=/{name}", f"--config.user={user}",
          "--os=linux", "--architecture=amd64"])
    # One archive per image, named as the pods reference it.
    _run(["skopeo", "--insecure-policy", "copy", f"oci:{layout}", f"oci-archive:{work / (name + '.tar')}:{ref}"])
    shutil.rmtree(work / "oci")
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)


# --------------------------------------------------------------------------
# Host state: sysctls, mounts, links, iptables, cgroups, processes
# Host state: sysctls, mounts, links, iptables, cgroups, processes


def read_sysctls() -> dict[str, str]:
    """The sysctls the node may change, dotted name -> value."""
    paths = [f"/proc/sys/{p}" for p in SYSCTLS]
    for pattern in SYSCTL_GLOBS:
        paths.extend(sorted(glob.glob(f"/proc/sys/{pattern}")))
    values = {}
    for path in paths:
        key = path[len("/proc/sys/"):].replace("/", ".")
        if key in SYSCTL_VOLATILE or not os.path.isfile(path):
            continue
        try:
            values[key] = Path(path).read_text().strip()
        except OSError:  # write-only or not readable in this network namespace
            continue
    return values


def restore_sysctls(saved: dict[str, str], skip: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """Write back every saved sysctl that differs now; returns key -> 'now -> saved' of what was restored.

    net.ipv4.ip_forward goes first: writing it resets every interface's forwarding flag.
    """
    restored = {}
    current = read_sysctls()
    order = sorted(saved, key=lambda k: (k != "net.ipv4.ip_forward", k))
    for key in order:
        if key in skip or key not in current or current[key] == saved[key]:
            continue
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            Path(path).write_text(saved[key] + "\n")
        except OSError as exc:
            raise RealNodeError(f"cannot restore {key} to {saved[key]!r}: {exc}") from exc
        restored[key] = f"{current[key]} -> {saved[key]}"
        if key == "net.ipv4.ip_forward":
            current = read_sysctls()
    return restored


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        # mountinfo escapes space, tab, newline and backslash as octal.
        points.append(point.encode().decode("unicode_escape").encode("latin-1").decode())
    return points


def _mounts_under(roots: list[str]) -> list[str]:
    roots = [r.rstrip("/") for r in roots]
    found = {p for p in _mount_points() for r in roots if p == r or p.startswith(r + "/")}
    return sorted(found, key=lambda p: (-p.count("/"), p))


_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


def _umount(path: str) -> None:
    if _libc.umount2(path.encode(), 0) != 0:
        _libc.umount2(path.encode(), MNT_DETACH)


def _cgroup_mounts() -> list[tuple[str, str, str]]:
    """(mount point, type, super options) of every cgroup hierarchy."""
    mounts = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _dash, right = line.partition(" - ")
        fstype, _source, options = (right.split() + ["", ""])[:3]
        if fstype in ("cgroup", "cgroup2"):
            mounts.add((left.split()[4], fstype, options))
    return sorted(mounts)


def _freezer_mount() -> str | None:
    return next((m for m, fstype, opts in _cgroup_mounts() if fstype == "cgroup" and "freezer" in opts.split(",")),
                None)


def _node_cgroups(root: str, below: str = "") -> list[str]:
    """Every cgroup directory of a node's cgroup root (`below` it: only that subtree), all hierarchies, deepest
    first."""
    dirs = []
    for mount, _fstype, _opts in _cgroup_mounts():
        top = os.path.join(mount, root.lstrip("/"), below)
        if os.path.isdir(top):
            dirs.extend(dirpath for dirpath, _dirs, _files in os.walk(top))
    return sorted(dirs, key=lambda p: -p.count("/"))


def _cgroup_pids(dirs: list[str]) -> set[int]:
    pids = set()
    for cg in dirs:
        with contextlib.suppress(OSError):
            pids.update(int(x) for x in Path(cg, "cgroup.procs").read_text().split())
    return pids


def _make_cgroup_root(root: str) -> None:
    """The root in every v1 hierarchy (the kubelet refuses a cgroupRoot one lacks); cpuset's needs its cpus and
    mems before a task may join."""
    for mount, fstype, opts in _cgroup_mounts():
        if fstype != "cgroup":
            continue
        path = Path(mount, root.lstrip("/"))
        path.mkdir(exist_ok=True)
        if "cpuset" in opts.split(","):
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not (path / name).read_text().strip():
                    (path / name).write_text(Path(mount, name).read_text())


def _remove_cgroups(dirs: Callable[[], list[str]]) -> None:
    """rmdir deepest first until `dirs()` is empty; a cgroup whose last task just died may refuse for a moment."""
    deadline = time.monotonic() + 10
    while True:
        for cg in dirs():
            with contextlib.suppress(OSError):
                os.rmdir(cg)
        left = dirs()
        if not left:
            return
        if time.monotonic() > deadline:
            raise RealNodeError(f"cgroups not removable: {left[-3:]}")
        time.sleep(0.2)


def _set_freezer(cgroup: str, state: str) -> bool:
    """Write FROZEN or THAWED; True once the cgroup reports it (a task stuck in the kernel can delay FROZEN)."""
    path = Path(cgroup, "freezer.state")
    path.write_text(state)
    deadline = time.monotonic() + 2
    while path.read_text().strip() != state:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _bridge_ports(bridge: str) -> list[str]:
    with contextlib.suppress(OSError):
        return sorted(os.listdir(f"/sys/class/net/{bridge}/brif"))
    return []


def _iptables_tools() -> list[str]:
    return [t for t in IPTABLES_TOOLS if shutil.which(t) and shutil.which(t + "-save")]


def _iptables_tables(tool: str) -> dict[str, tuple[list[str], list[str]]]:
    """table -> (chain names, rules as '-A CHAIN ...' lines) from `<tool>-save`."""
    out = _run([tool + "-save"], check=False)
    tables: dict[str, tuple[list[str], list[str]]] = {}
    table = ""
    for line in out.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = ([], [])
        elif line.startswith(":") and table:
            tables[table][0].append(line[1:].split()[0])
        elif line.startswith("-A ") and table:
            tables[table][1].append(line)
    return tables


def _ours_chain(name: str) -> bool:
    return name.startswith(CHAIN_PREFIXES)


def _ours_rule(rule: str) -> bool:
    """A rule in any chain that jumps to one of our chains or names one of our links."""
    words = shlex.split(rule)
    for flag, value in zip(words, words[1:], strict=False):
        if flag in ("-j", "-g", "--jump", "--goto") and _ours_chain(value):
            return True
        if flag in ("-i", "-o", "--in-interface", "--out-interface") and value.startswith(LINK_PREFIX):
            return True
    return False


def _iptables_leftovers() -> list[str]:
    found = []
    for tool in _iptables_tools():
        for table, (chains, rules) in _iptables_tables(tool).items():
            found += [f"{tool} -t {table} chain {c}" for c in chains if _ours_chain(c)]
            found += [f"{tool} -t {table} rule {r}" for r in rules
                      if not _ours_chain(r.split()[1]) and _ours_rule(r)]
    return found


def _iptables_cleanup() -> None:
    """Delete the rules that lead to KUBE-*/CNI-*/PINOTOPS-* chains, then flush and delete those chains."""
    for tool in _iptables_tools():
        for table, (chains, rules) in _iptables_tables(tool).items():
            ours = [c for c in chains if _ours_chain(c)]
            refs = [r for r in rules if not _ours_chain(r.split()[1]) and _ours_rule(r)]
            if not ours and not refs:
                continue
            script = [f"*{table}"]
            script += ["-D" + r[2:] for r in refs]
            script += [f"-F {c}" for c in ours]
            script += [f"-X {c}" for c in ours]
            script.append("COMMIT")
            _run([tool + "-restore", "--noflush"], input_text="\n".join(script) + "\n")


def _nft_tables() -> set[str]:
    """'family name' of every nf_tables table (iptables-nft keeps its tables there)."""
    if not shutil.which("nft"):
        return set()
    out = _run(["nft", "list", "tables"], check=False)
    return {line.split(None, 1)[1] for line in out.splitlines() if line.startswith("table ")}


def _nft_cleanup(before: set[str]) -> None:
    """Delete the tables that did not exist before start, if no rule is left in them."""
    for table in sorted(_nft_tables() - before):
        listing = json.loads(_run(["nft", "-j", "list", "table", *table.split()]) or "{}")
        if not any("rule" in item for item in listing.get("nftables", [])):
            _run(["nft", "delete", "table", *table.split()])


def guard_rules(forwarding_was_off: bool) -> str:
    """iptables-restore input for the guard chains (and the empty DOWN chain, which goes before them).

    mangle POSTROUTING sees the device a packet really leaves by: anything for the test bed's ranges that
    would leave by another one than loopback or a node's bridge is dropped there. filter OUTPUT refuses the same
    early (a quick error instead of a timeout), but its -o is the device routed before a DNAT: a ClusterIP
    packet DNATed to a pod of a bridge still names the default route's device there, hence the exception.
    Pods of different nodes reach each other through the host: bridge to bridge is forwarded.
    """
    lines = ["*mangle", f":{GUARD_POST} - [0:0]"]
    lines += [f"-A {GUARD_POST} -o lo -j RETURN", f"-A {GUARD_POST} -o {BRIDGES} -j RETURN"]
    lines += [f"-A {GUARD_POST} -d {net} -j DROP" for net in GUARDED_NETS]
    lines += [f"-I POSTROUTING 1 -j {GUARD_POST}", "COMMIT"]
    lines += ["*filter", f":{GUARD_OUT} - [0:0]", f":{GUARD_FWD} - [0:0]", f":{DOWN} - [0:0]"]
    lines += [f"-A {GUARD_OUT} -o lo -j RETURN", f"-A {GUARD_OUT} -o {BRIDGES} -j RETURN",
              f"-A {GUARD_OUT} -d {PODS_NET} -m conntrack --ctstate DNAT -j RETURN"]
    lines += [f"-A {GUARD_OUT} -d {net} -j REJECT" for net in GUARDED_NETS]
    lines += [
        f"-A {GUARD_FWD} -i {BRIDGES} -o {BRIDGES} -j RETURN",
        f"-A {GUARD_FWD} -i {BRIDGES} -j DROP",
        f"-A {GUARD_FWD} -o {BRIDGES} -j DROP",
    ]
    if forwarding_was_off:  # the machine did not forward before: it still forwards nothing else
        lines.append(f"-A {GUARD_FWD} -j DROP")
    lines += [f"-I OUTPUT 1 -j {GUARD_OUT}", f"-I FORWARD 1 -j {GUARD_FWD}",
              f"-I OUTPUT 1 -j {DOWN}", f"-I FORWARD 1 -j {DOWN}", "COMMIT"]
    return "\n".join(lines) + "\n"


def down_rules(spec: NodeSpec) -> list[list[str]]:
    """The DOWN chain's rules for a killed node: what is sent to its address vanishes (a timeout, never a
    refusal). Its pods' subnet is not dropped here but by its bridge (Node._void_bridge), after conntrack.

    NODE_IP stays reachable even when it is the node's own address: CoreDNS and Kafka live there too.
    """
    return [] if spec.ip == NODE_IP else [["-d", f"{spec.ip}/32", "-j", "DROP"]]


def _signal(pid: int, sig: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _exe_of(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pids: set[int], timeout: float, reap: Callable[[], None] = lambda: None) -> set[int]:
    deadline = time.monotonic() + timeout
    while True:
        reap()
        pids = {p for p in pids if _alive(p)}
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


def _http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


# --------------------------------------------------------------------------
# Configuration, rendered per node (pure functions)


def containerd_config(node_dir: Path) -> str:
    d = node_dir / "containerd"
    return f"""\
version = 2
root = "{d / 'root'}"
state = "{d / 'state'}"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{d / 'containerd.sock'}"

[ttrpc]
  address = "{d / 'containerd.sock'}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # No CAP_SYS_RESOURCE here: runc could not lower oom_score_adj to the kubelet's -998.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        Root = "{node_dir / 'runc'}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{node_dir / 'cni' / 'net.d'}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{d / 'certs.d'}"
"""


def cni_conflist(spec: NodeSpec, node_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": f"pinotops-{spec.name}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": spec.bridge,
                "isGateway": True,
                "ipMasq": False,  # nothing leaves the machine, so nothing needs masquerading
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": spec.pod_subnet, "gateway": spec.gateway}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(node_dir / "cni" / "ipam"),
                },
            }
        ],
    }


def kubelet_config(spec: NodeSpec, node_dir: Path, ports: dict[str, int], *, ca_file: Path, resolv_conf: Path,
                   lease_seconds: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": spec.ip,
        "port": ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports["kubelet_healthz"],
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True, "cacheTTL": "10s"},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "10s", "cacheUnauthorizedTTL": "5s"}},
        "containerRuntimeEndpoint": f"unix://{node_dir / 'containerd' / 'containerd.sock'}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": spec.cgroup_root,
        "failCgroupV1": False,  # this machine has cgroup v1; 1.34 refuses it unless told
        "failSwapOn": False,
        "protectKernelDefaults": False,  # true refuses to start: the kernel defaults differ
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(resolv_conf),
        "podLogsDir": str(node_dir / "pod-logs"),
        "volumePluginDir": str(node_dir / "kubelet" / "volume-plugins"),
        # Images are imported, never pulled: never collect them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%",
                         "imagefs.available": "1%"},
        "nodeLeaseDurationSeconds": lease_seconds,  # renewed every quarter of it
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "shutdownGracePeriod": "0s",
        "serializeImagePulls": False,
        "maxPods": 110,
    }


def kubelet_args(spec: NodeSpec, node_dir: Path, kubelet: str) -> list[str]:
    return [
        kubelet,
        f"--config={node_dir / 'kubelet' / 'config.yaml'}",
        f"--kubeconfig={node_dir / 'kubelet' / 'kubeconfig'}",
        f"--root-dir={node_dir / 'kubelet' / 'root'}",
        f"--cert-dir={node_dir / 'kubelet' / 'pki'}",
        f"--hostname-override={spec.name}",
        f"--node-ip={spec.ip}",
        "--node-labels=" + ",".join(f"{k}={v}" for k, v in spec.labels.items()),
        "--v=2",
    ]


def kube_proxy_config(specs: Sequence[NodeSpec], workdir: Path, ports: dict[str, int]) -> dict[str, Any]:
    """One kube-proxy for the machine (iptables has one owner); its node name is the first node's."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(workdir / "kube-proxy" / "kubeconfig")},
        "hostnameOverride": specs[0].name,
        "bindAddress": NODE_IP,
        "healthzBindAddress": f"127.0.0.1:{ports['proxy_healthz']}",
        "metricsBindAddress": f"127.0.0.1:{ports['proxy_metrics']}",
        "mode": "iptables",
        "clusterCIDR": PODS_NET,
        "nodePortAddresses": [f"{s.ip}/32" for s in specs],
        # No route_localnet: NodePorts only on the node addresses.
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False, "syncPeriod": "30s", "minSyncPeriod": "1s"},
        # 0 leaves the machine's conntrack limits and timeouts as they are.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "oomScoreAdj": 0,
        "enableProfiling": False,
    }


def corefile(workdir: Path, ports: dict[str, int]) -> str:
    return f"""\
{CLUSTER_DOMAIN}:53 {{
    bind {NODE_IP}
    errors
    log
    health 127.0.0.1:{ports['coredns_health']}
    ready 127.0.0.1:{ports['coredns_ready']}
    kubernetes {CLUSTER_DOMAIN} {{
        kubeconfig {workdir / 'coredns' / 'kubeconfig'} testbed
        pods disabled
        ttl 5
    }}
    cache 5
    reload
}}
"""


def kubeconfig(host: str, ca_pem: bytes, user: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "testbed",
        "clusters": [{"name": "testbed", "cluster": {"server": host,
                                                     "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": user}}],
    }


def _write_private(path: Path, obj: dict[str, Any]) -> None:
    path.write_text(json.dumps(obj, indent=2))
    path.chmod(0o600)


# --------------------------------------------------------------------------


class Node:
    """One kubelet + containerd of a RealNode host. kill() and revive() only from the process that started it."""

    def __init__(self, host: RealNode, spec: NodeSpec, workdir: Path) -> None:
        self.host = host
        self.spec = spec
        self.workdir = workdir
        self.socket = workdir / "containerd" / "containerd.sock"
        self.logs = workdir / "logs"
        self.timings: dict[str, float] = {}
        self.froze_on_kill = False  # whether the last kill() had every process frozen before the SIGKILLs

    def __repr__(self) -> str:
        return f"Node({self.name}, {self.ip}, {self.zone or 'no zone'})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ip(self) -> str:
        return self.spec.ip

    @property
    def zone(self) -> str:
        return self.spec.zone

    @property
    def pod_subnet(self) -> str:
        return self.spec.pod_subnet

    @property
    def down(self) -> bool:
        return bool(self._entry().get("down"))

    def label(self, component: str) -> str:
        """A component's key in the host's pids and logs: its plain name when the host has one node."""
        return component if len(self.host.nodes) == 1 else f"{component}@{self.name}"

    def import_image(self, archive: Path, ref: str | None = None) -> None:
        """Load an OCI archive into this node's containerd (namespace k8s.io, where the kubelet looks)."""
        ctr = [CTR, "--address", str(self.socket), "-n", "k8s.io", "images"]
        _run([*ctr, "import", str(archive)], timeout=600)
        if ref and ref not in _run([*ctr, "ls", "-q"]).split():
            raise RealNodeError(f"ctr images import {archive} into {self.name} did not create {ref}")

    def kill(self) -> None:
        """The node dies at once, and loses what a reboot loses (see the module docstring)."""
        if self.down:
            raise RealNodeError(f"{self.name} is down already")
        t0 = time.monotonic()
        self.host._cut_off(self.spec, True)
        self._void_bridge()
        self._kill_processes()
        self.timings["kill"] = time.monotonic() - t0
        self._lose_volatile_state()
        self._entry()["down"] = True
        self.host._write_state()
        self.timings["kill_and_reboot"] = time.monotonic() - t0

    def revive(self) -> None:
        """containerd and the kubelet again, same name, directories and ports; returns once the Node is Ready."""
        if not self.down:
            raise RealNodeError(f"{self.name} is not down")
        if self.host.cp is None:
            raise RealNodeError("revive() needs the control plane (the process that started the nodes)")
        t0 = time.monotonic()
        self.host._cut_off(self.spec, False)
        if _link_exists(self.spec.bridge):  # a fresh one, made by the CNI plugin for the first pod
            _run(["ip", "link", "del", self.spec.bridge])
        self._make_dirs(fresh=False)
        self._start_containerd()
        self.host._wait(f"containerd of {self.name}", 60, self._containerd_ok)
        started, posted_after = time.monotonic(), _now_rfc3339()
        self._start_kubelet()
        self.host._wait_nodes_ready([self], started, posted_after, "revive_")
        self._entry()["down"] = False
        self.host._write_state()
        self.timings["revive"] = time.monotonic() - t0

    # -- internals -------------------------------------------------------------

    def _entry(self) -> dict[str, Any]:
        return self.host._state.get("nodes", {}).get(self.name, {})

    def _make_dirs(self, fresh: bool) -> None:
        wd = self.workdir
        if fresh:
            for sub in ("logs", "containerd", "cni", "kubelet", "pod-logs", "runc"):
                shutil.rmtree(wd / sub, ignore_errors=True)
        for sub in ("logs", "containerd/certs.d", "cni/net.d", "cni/ipam", "kubelet/root", "kubelet/pki",
                    "kubelet/volume-plugins", "pod-logs", "runc"):
            (wd / sub).mkdir(parents=True, exist_ok=True)

    def _write_configs(self) -> None:
        cp = self.host.cp
        assert cp is not None
        wd = self.workdir
        ports = self.host._free_ports(["kubelet"], self.ip)
        ports.update(self.host._free_ports(["kubelet_healthz"], "127.0.0.1"))
        self._entry()["ports"] = ports
        self.host._write_state()
        (wd / "containerd" / "config.toml").write_text(containerd_config(wd))
        # Every registry is a closed port on loopback: nothing is ever pulled from outside.
        for registry in REGISTRIES:
            (wd / "containerd" / "certs.d" / registry).mkdir(parents=True, exist_ok=True)
            (wd / "containerd" / "certs.d" / registry / "hosts.toml").write_text(
                'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n'
            )
        (wd / "cni" / "net.d" / "10-pinotops.conflist").write_text(json.dumps(cni_conflist(self.spec, wd), indent=2))
        token = cp.node_tokens[kubelet_token_key(self.name)]
        _write_private(wd / "kubelet" / "kubeconfig", kubeconfig(cp.host, cp.ca_file.read_bytes(), "kubelet", token))
        config = kubelet_config(self.spec, wd, ports, ca_file=cp.ca_file, resolv_conf=self.host.workdir / "resolv.conf",
                                lease_seconds=cp.node_lease_seconds)
        (wd / "kubelet" / "config.yaml").write_text(json.dumps(config, indent=2))

    def _start_containerd(self) -> None:
        self.host._spawn(self, "containerd", [CONTAINERD, "--config", str(self.workdir / "containerd" / "config.toml")])

    def _start_kubelet(self) -> None:
        self.host._spawn(self, "kubelet", kubelet_args(self.spec, self.workdir, self.host.bin["kubelet"]))

    def _containerd_ok(self) -> bool:
        if not self.socket.exists():
            return False
        proc = subprocess.run([CTR, "--address", str(self.socket), "version"], capture_output=True, check=False,
                              timeout=10)
        return proc.returncode == 0

    def _freezer(self) -> str | None:
        mount = _freezer_mount()
        path = os.path.join(mount, self.spec.cgroup_root.lstrip("/")) if mount else ""
        return path if path and os.path.isdir(path) else None

    def _join_freezer(self, pid: int) -> None:
        """containerd's shims inherit its cgroup, the pods are below the node's root: one freeze stops them all."""
        freezer = self._freezer()
        if freezer:
            Path(freezer, "cgroup.procs").write_text(str(pid))

    def _shim_pids(self) -> set[int]:
        """containerd-shim-runc-v2 processes serving this containerd: its socket is in their command line."""
        pids = set()
        for pid_file in glob.glob(f"{self.workdir}/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid"):
            with contextlib.suppress(OSError, ValueError):
                pids.add(int(Path(pid_file).read_text().strip()))
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                pids.add(int(entry))
        return {p for p in pids if os.path.basename(_exe_of(p)) == os.path.basename(SHIM)
                and str(self.socket) in _cmdline(p) and _alive(p)}

    def processes(self) -> list[int]:
        """Every live pid of the node: kubelet and containerd first, then shims and pod processes ([] when down)."""
        procs = self.host._state.get("processes", {})
        ours = [p["pid"] for p in sorted(procs.values(), key=lambda p: p["exe"] != self.host.bin.get("kubelet"))
                if p.get("node") == self.name and _proc_alive(p["pid"], p["exe"])]
        ours += sorted(self._shim_pids())
        ours += sorted(_cgroup_pids(_node_cgroups(self.spec.cgroup_root)))
        for pid_file in glob.glob(f"{self.workdir}/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid"):
            with contextlib.suppress(OSError, ValueError):
                ours.append(int(Path(pid_file).read_text().strip()))
        return [p for p in dict.fromkeys(ours) if _alive(p) and p != os.getpid()]

    def _kill_processes(self) -> None:
        """Freeze the node's cgroup (kubelet, containerd, shims, pods), SIGKILL every task, thaw: nothing of the
        node sees another part of it die first."""
        freezer = self._freezer()
        self.froze_on_kill = freezer is not None and _set_freezer(freezer, "FROZEN")
        victims = self.processes()
        for pid in victims:
            _signal(pid, signal.SIGKILL)
        if freezer is not None:
            _set_freezer(freezer, "THAWED")
        left = _wait_dead(set(victims), 10, self.host._reap)
        if left:
            raise RealNodeError(f"{self.name}: still alive after SIGKILL: {sorted(left)}")
        self.host._forget(self)

    def _void_bridge(self) -> None:
        """The node's bridge becomes a void: without ARP, what the host sends to the node's pods leaves its stack
        like a packet on the wire to a dead machine, conntrack confirmed (a Service's retransmitted SYN goes to
        the same dead endpoint), and vanishes. Clients time out: nobody is refused or told it is unreachable.
        The pods cannot reach the host either. revive() deletes it: the first pod gets a fresh bridge."""
        bridge = self.spec.bridge
        if not _link_exists(bridge):  # no pod ran yet: the void stands where the bridge would be
            _run(["ip", "link", "add", bridge, "type", "bridge"])
            _run(["ip", "addr", "add", f"{self.spec.gateway}/{ipaddress.ip_network(self.pod_subnet).prefixlen}",
                  "dev", bridge])
        _run(["ip", "link", "set", bridge, "arp", "off", "up"])
        _run(["ip", "neigh", "flush", "dev", bridge])

    def _lose_volatile_state(self) -> None:
        """What a reboot takes: mounts (pod netns files, tmpfs volumes, rootfs), veths, pod cgroups, containerd's
        state, runc's root and the IPAM records. The host's conntrack entries stay: they are the clients'."""
        self.host._note_veths(self)
        _unmount_all([str(self.workdir)])
        for name in _bridge_ports(self.spec.bridge):
            if _link_exists(name):
                _run(["ip", "link", "del", name], check=False)
        _remove_cgroups(lambda: _node_cgroups(self.spec.cgroup_root, "kubepods"))
        for sub in ("containerd/state", "runc", "cni/ipam"):
            shutil.rmtree(self.workdir / sub, ignore_errors=True)
        for sock in (self.socket, Path(f"{self.socket}.ttrpc")):
            sock.unlink(missing_ok=True)


class RealNode:
    """The host side of the real nodes (node link, guard chains, CoreDNS, kube-proxy, sysctls) and their kubelets.

    `nodes` (NodeSpec) defaults to the one node `real-node-0`, whose directories are `workdir` itself; several
    nodes get `workdir/<name>` each. `control_plane` must have been started with real_node=True and node_names
    naming these nodes (or attached to one that was); it may be None for `stop()`/`leftovers()` of nodes another
    process started (workdir/state.json). `detach=True` lets the daemons outlive this Python process; otherwise
    they die with it (containerd's shims and the containers do not: `stop()` from state.json takes care of them).
    """

    def __init__(self, control_plane: K8sControlPlane | None, workdir: Path, *,
                 nodes: Sequence[NodeSpec] = (DEFAULT_NODE,), detach: bool = False) -> None:
        self.cp = control_plane
        self.workdir = Path(workdir).resolve()
        self.detach = detach
        self.state_file = self.workdir / "state.json"
        self.logs = self.workdir / "logs"
        self.bin: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self.saved_sysctls: dict[str, str] = {}
        self.restored_after_ready: dict[str, str] = {}
        self.restored_at_stop: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: dict[str, Path] = {}
        self._state: dict[str, Any] = {}
        self.nodes = self._make_nodes(nodes)

    def _make_nodes(self, specs: Sequence[NodeSpec]) -> list[Node]:
        for field in ("name", "ip", "pod_subnet", "bridge"):
            values = [getattr(s, field) for s in specs]
            if not values or len(set(values)) != len(values):
                raise RealNodeError(f"the nodes' {field}s must be distinct: {values}")
        single = len(specs) == 1
        return [Node(self, s, self.workdir if single else self.workdir / s.name) for s in specs]

    @property
    def by_zone(self) -> dict[str, Node]:
        return {n.zone: n for n in self.nodes if n.zone}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> RealNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> RealNode:
        if self.cp is None or not self.cp.node_tokens:
            raise RealNodeError("the control plane must be started with K8sControlPlane(..., real_node=True)")
        missing = [n.name for n in self.nodes if kubelet_token_key(n.name) not in self.cp.node_tokens]
        if missing:
            raise RealNodeError(f"the control plane has no kubelet token for {missing}: start it with node_names")
        t0 = time.monotonic()
        ensure_node_packages(self.workdir / "setup-logs")
        self.bin = ensure_node_binaries()
        images = ensure_images()
        self.timings["prepare"] = time.monotonic() - t0
        self.stop()  # a previous bed of this workdir
        self._refuse_foreign_leftovers()
        try:
            self._start(images)
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _refuse_foreign_leftovers(self) -> None:
        """Other nodes (or crashed ones whose state is lost) own the fixed names: do not take them over."""
        links = (NODE_LINK, NODE_LINK_PEER, *(n.spec.bridge for n in self.nodes))
        busy = [f"link {n}" for n in links if _link_exists(n)]
        busy += [f"cgroup {c}" for n in self.nodes for c in _node_cgroups(n.spec.cgroup_root)[-1:]]
        busy += _iptables_leftovers()
        if busy:
            raise RealNodeError(
                "a real node seems to be running on this machine already, or one was not torn down "
                f"(python -m tests.testbed.real_node down --workdir DIR): {busy}"
            )

    def _start(self, images: dict[str, Path]) -> None:
        wd = self.workdir
        assert self.cp is not None
        if _mounts_under([str(wd)]):  # never delete through the mounts of a node whose state is lost
            raise RealNodeError(f"{wd} still has mounts: {_mounts_under([str(wd)])}")
        for sub in ("logs", "kube-proxy", "coredns"):
            shutil.rmtree(wd / sub, ignore_errors=True)
        for node in self.nodes:
            node._make_dirs(fresh=True)
        for sub in ("logs", "kube-proxy", "coredns"):
            (wd / sub).mkdir(parents=True, exist_ok=True)

        self.saved_sysctls = read_sysctls()
        self._state = {
            "nodes": {n.name: {"spec": asdict(n.spec), "dir": str(n.workdir), "ports": {}, "down": False}
                      for n in self.nodes},
            "processes": {},
            "sysctls": self.saved_sysctls,
            "absent_paths": [p for p in GLOBAL_PATHS if not os.path.lexists(p)],
            "nft_tables": sorted(_nft_tables()),
            "veths": [],
            "control_plane": {"host": self.cp.host, "token": self.cp.token, "ca_file": str(self.cp.ca_file)},
        }
        self._write_state()

        # The addresses on a link of our own, then the guard before anything can route.
        if subprocess.run(["ip", "link", "add", NODE_LINK, "type", "dummy"], capture_output=True,
                          check=False).returncode != 0:
            _run(["ip", "link", "add", NODE_LINK, "type", "veth", "peer", "name", NODE_LINK_PEER])
            _run(["ip", "link", "set", NODE_LINK_PEER, "up"])
        for ip in dict.fromkeys([NODE_IP, *(n.ip for n in self.nodes)]):
            _run(["ip", "addr", "add", f"{ip}/32", "dev", NODE_LINK])
        _run(["ip", "link", "set", NODE_LINK, "up"])
        forwarding_was_off = self.saved_sysctls.get("net.ipv4.ip_forward") == "0"
        _run(["iptables-restore", "--noflush"], input_text=guard_rules(forwarding_was_off))
        for node in self.nodes:
            _make_cgroup_root(node.spec.cgroup_root)

        self._write_configs()
        for node in self.nodes:
            node._write_configs()
        t = time.monotonic()
        for node in self.nodes:
            node._start_containerd()
        for node in self.nodes:
            self._wait(f"containerd of {node.name}", 60, node._containerd_ok)
        for ref, archive in images.items():
            self.import_image(archive, ref)
        self.timings["containerd"] = time.monotonic() - t

        t = time.monotonic()
        self._coredns_rbac()
        self._spawn(None, "coredns", [self.bin["coredns"], "-conf", str(wd / "coredns" / "Corefile")])
        self._wait("CoreDNS ready", 60, lambda: _http_ok(f"http://127.0.0.1:{self._state['ports']['coredns_ready']}"
                                                         "/ready"))
        self.timings["coredns"] = time.monotonic() - t

        t, posted_after = time.monotonic(), _now_rfc3339()
        for node in self.nodes:
            node._start_kubelet()
        self._wait_nodes_ready(self.nodes, t, posted_after)
        self.timings["kubelet_ready"] = max(n.timings["kubelet_ready"] for n in self.nodes)
        self.timings["node_ready"] = time.monotonic() - t

        t = time.monotonic()
        self._spawn(None, "kube-proxy", [self.bin["kube-proxy"], f"--config={wd / 'kube-proxy' / 'config.yaml'}",
                                         "--v=2"])
        self._wait("kube-proxy healthy", 60,
                   lambda: _http_ok(f"http://127.0.0.1:{self._state['ports']['proxy_healthz']}/healthz"))
        self.timings["kube_proxy"] = time.monotonic() - t

    def _wait_nodes_ready(self, nodes: list[Node], started: float, posted_after: str, prefix: str = "") -> None:
        """Until every node is Ready and untainted, as its kubelet posted at `posted_after` or later (a node
        revived before the control plane noticed its death still shows the old Ready); each node's
        `<prefix>kubelet_ready` and `<prefix>node_ready` timings count from `started`. The kubelet writes its
        kernel tunables once, when its container manager starts (before it reports Ready): they go back as soon
        as they change, and once more when the nodes are Ready."""

        def ready() -> bool:
            self.restored_after_ready.update(restore_sysctls(self.saved_sysctls, skip=SYSCTL_NODE_NEEDS))
            now = time.monotonic() - started
            done = True
            for node in nodes:
                state = self._node_state(node.name, posted_after)
                if state:
                    node.timings.setdefault(f"{prefix}kubelet_ready", now)
                if state == "schedulable":
                    node.timings.setdefault(f"{prefix}node_ready", now)
                else:
                    done = False
            return done

        for node in nodes:
            node.timings.pop(f"{prefix}kubelet_ready", None)
            node.timings.pop(f"{prefix}node_ready", None)
        self._wait(f"{', '.join(n.name for n in nodes)} Ready and untainted", 120, ready)
        self.restored_after_ready.update(restore_sysctls(self.saved_sysctls, skip=SYSCTL_NODE_NEEDS))

    def import_image(self, archive: Path, ref: str | None = None) -> None:
        """Load an OCI archive into every node's containerd (namespace k8s.io, where the kubelet looks).

        Pods then use it with imagePullPolicy IfNotPresent or Never: nothing is ever pulled.
        """
        for node in self.nodes:
            node.import_image(archive, ref)

    def stop(self) -> None:
        """Tear everything down; safe to call repeatedly and from another process (reads state.json)."""
        state = self._state or self._load_state()
        if not state:
            return
        self._state = state
        self._adopt(state)
        t0 = time.monotonic()
        errors: list[str] = []

        def step(what: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except Exception as exc:  # go on: every other step still has to run
                errors.append(f"{what}: {exc}")

        shared = [label for label, p in state.get("processes", {}).items() if not p.get("node")]
        step("stop kube-proxy, CoreDNS", lambda: self._stop_processes(shared))
        # Kubelet, containerd, shims and pods of a node together, so that nothing restarts a container.
        for node in self.nodes:
            step(f"kill {node.name}", node._kill_processes)
        step("delete the Node objects", lambda: self._delete_nodes(state))
        step("unmount", lambda: _unmount_all([str(self.workdir), *state.get("absent_paths", [])]))
        step("delete links", lambda: self._delete_links(state))
        step("iptables", _iptables_cleanup)
        step("nf_tables tables", lambda: _nft_cleanup(set(state.get("nft_tables", []))))
        step("conntrack", lambda: _flush_conntrack([*(n.pod_subnet for n in self.nodes),
                                                    *(f"{ip}/32" for ip in {NODE_IP, *(n.ip for n in self.nodes)}),
                                                    SERVICE_CIDR]))
        step("cgroups", lambda: _remove_cgroups(self._cgroups))
        step("paths", lambda: self._remove_paths(state))
        step("sysctls", lambda: self._restore_all_sysctls(state))
        self._procs.clear()
        self.pids.clear()
        self.timings["stop"] = time.monotonic() - t0
        if errors:
            self._write_state()
            raise RealNodeError("teardown incomplete:\n" + "\n".join(errors))
        self._state = {}
        self.state_file.unlink(missing_ok=True)
        (self.workdir / "stopped.json").write_text(json.dumps({**state, "stop_seconds": self.timings["stop"]},
                                                              indent=2))

    def leftovers(self) -> list[str]:
        """Everything the nodes leave on the machine that is still there ([] once stopped cleanly)."""
        state = self._state or self._load_state()
        if not state:
            with contextlib.suppress(OSError, ValueError):
                state = json.loads((self.workdir / "stopped.json").read_text())
        self._adopt(state)
        found = []
        for name, p in state.get("processes", {}).items():
            if _proc_alive(p["pid"], p["exe"]):
                found.append(f"process {name} pid {p['pid']}")
        for node in self.nodes:
            found += [f"containerd shim pid {pid} of {node.name}" for pid in sorted(node._shim_pids())]
            found += [f"process pid {pid} in the cgroups of {node.name}"
                      for pid in sorted(_cgroup_pids(_node_cgroups(node.spec.cgroup_root)))]
        roots = [str(self.workdir), *state.get("absent_paths", [])]
        found += [f"mount {m}" for m in _mounts_under(roots)]
        links = (NODE_LINK, NODE_LINK_PEER, *(n.spec.bridge for n in self.nodes), *state.get("veths", []))
        found += [f"link {n}" for n in links if _link_exists(n)]
        found += _iptables_leftovers()
        if "nft_tables" in state:
            found += [f"nf_tables table {t}" for t in sorted(_nft_tables() - set(state["nft_tables"]))]
        found += [f"cgroup {c}" for c in self._cgroups()]
        found += [f"path {p}" for p in state.get("absent_paths", []) if os.path.lexists(p)]
        now = read_sysctls()
        found += [f"sysctl {k}={now.get(k)} (was {v})" for k, v in state.get("sysctls", {}).items()
                  if now.get(k) != v]
        return found

    # -- configuration -------------------------------------------------------

    def _write_configs(self) -> None:
        wd = self.workdir
        assert self.cp is not None
        ports = self._free_ports(["proxy_healthz", "proxy_metrics", "coredns_health", "coredns_ready"], "127.0.0.1")
        self._state["ports"] = ports
        self._write_state()
        ca = self.cp.ca_file.read_bytes()
        tokens = self.cp.node_tokens
        _write_private(wd / "kube-proxy" / "kubeconfig", kubeconfig(self.cp.host, ca, "kube-proxy",
                                                                    tokens["kube-proxy"]))
        _write_private(wd / "coredns" / "kubeconfig", kubeconfig(self.cp.host, ca, "coredns", tokens["coredns"]))
        # Pods of dnsPolicy Default read this too: the host's resolver is never theirs.
        (wd / "resolv.conf").write_text(f"nameserver {NODE_IP}\n")
        specs = [n.spec for n in self.nodes]
        (wd / "kube-proxy" / "config.yaml").write_text(json.dumps(kube_proxy_config(specs, wd, ports), indent=2))
        (wd / "coredns" / "Corefile").write_text(corefile(wd, ports))

    @staticmethod
    def _free_ports(names: list[str], host: str) -> dict[str, int]:
        try:
            return free_ports(names, host)
        except OSError as exc:
            raise RealNodeError(f"cannot pick a port on {host}: {exc}") from exc

    def _coredns_rbac(self) -> None:
        assert self.cp is not None
        user = REAL_NODE_IDENTITIES["coredns"][0]
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": user},
            "rules": [
                {"apiGroups": [""], "resources": ["services", "endpoints", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": user},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        for path, obj in (("/apis/rbac.authorization.k8s.io/v1/clusterroles", role),
                          ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)):
            if self.cp.get_or_none(f"{path}/{user}") is None:
                self.cp.request("POST", path, obj)

    # -- readiness -----------------------------------------------------------

    def _node_state(self, name: str, posted_after: str) -> str:
        """'' (not Ready, or Ready last reported before `posted_after`), 'ready' (Ready, still tainted),
        'schedulable' (Ready and untainted).

        The node lifecycle controller lifts the not-ready taint up to its monitor period after Ready.
        """
        assert self.cp is not None
        node = self.cp.get_or_none(f"/api/v1/nodes/{name}")
        ready = next((c for c in (node or {}).get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})
        if ready.get("status") != "True" or ready.get("lastHeartbeatTime", "") < posted_after:
            return ""
        return "ready" if node["spec"].get("taints") else "schedulable"

    def _wait(self, what: str, timeout: float, ready: Callable[[], bool]) -> None:
        wait_for(what, timeout, ready, procs=self._procs, log_tail=self.log_tail, error=RealNodeError, logs=self.logs)

    def log_tail(self, name: str, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = self._log_files.get(name, self.logs / f"{name}.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    # -- processes and state ---------------------------------------------------

    def _spawn(self, node: Node | None, component: str, argv: list[str]) -> None:
        label = node.label(component) if node else component
        log = (node.logs if node else self.logs) / f"{component}.log"
        proc = spawn(argv, log, node.workdir if node else self.workdir, detach=self.detach)
        self._procs[label] = proc
        self._log_files[label] = log
        self.pids[label] = proc.pid
        self._state["processes"][label] = {"pid": proc.pid, "exe": argv[0], "node": node.name if node else ""}
        self._write_state()
        if node:
            node._join_freezer(proc.pid)

    def _forget(self, node: Node) -> None:
        """Drop the records of a node's processes once they are dead."""
        for label in [k for k, p in self._state.get("processes", {}).items() if p.get("node") == node.name]:
            proc = self._procs.pop(label, None)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1)
            self.pids.pop(label, None)
            del self._state["processes"][label]
        self._write_state()

    def _stop_processes(self, labels: list[str]) -> None:
        procs = self._state.get("processes", {})
        live = {procs[n]["pid"] for n in labels if _proc_alive(procs[n]["pid"], procs[n]["exe"])}
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            for pid in live:
                _signal(pid, sig, group=True)
            live = _wait_dead(live, grace, self._reap)
            if not live:
                return
        raise RealNodeError(f"could not kill {sorted(live)}")

    def _reap(self) -> None:
        for proc in self._procs.values():
            proc.poll()

    def _write_state(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=2))
        tmp.replace(self.state_file)

    def _load_state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _adopt(self, state: dict[str, Any]) -> None:
        """The nodes a state file names (another process started them) replace the ones this object was made with."""
        entries = state.get("nodes", {})
        if entries and list(entries) != [n.name for n in self.nodes]:
            self.nodes = [Node(self, NodeSpec(**e["spec"]), Path(e["dir"])) for e in entries.values()]

    # -- network -----------------------------------------------------------------

    def _cut_off(self, spec: NodeSpec, down: bool) -> None:
        """Add (down) or remove the DOWN chain's DROPs for a node's pods and address."""
        for rule in down_rules(spec):
            present = subprocess.run(["iptables", "-C", DOWN, *rule], capture_output=True, check=False).returncode == 0
            if down and not present:
                _run(["iptables", "-A", DOWN, *rule])
            elif not down and present:
                _run(["iptables", "-D", DOWN, *rule])

    def _note_veths(self, node: Node) -> None:
        veths = set(self._state.get("veths", [])) | set(_bridge_ports(node.spec.bridge))
        self._state["veths"] = sorted(veths)
        self._write_state()

    # -- teardown steps --------------------------------------------------------

    def _cgroups(self) -> list[str]:
        return [c for n in self.nodes for c in _node_cgroups(n.spec.cgroup_root)]

    def _delete_links(self, state: dict[str, Any]) -> None:
        bridges = [n.spec.bridge for n in self.nodes]
        veths = sorted(set(state.get("veths", [])) | {p for b in bridges for p in _bridge_ports(b)})
        state["veths"] = veths
        names = (*veths, *bridges, NODE_LINK, NODE_LINK_PEER)
        for name in names:
            if _link_exists(name):
                _run(["ip", "link", "del", name], check=False)
        still = [n for n in names if _link_exists(n)]
        if still:
            raise RealNodeError(f"links still present: {still}")

    def _remove_paths(self, state: dict[str, Any]) -> None:
        for path in sorted(state.get("absent_paths", []), key=len):
            if os.path.lexists(path):
                if _mounts_under([path]):
                    raise RealNodeError(f"{path} still has mounts: {_mounts_under([path])}")
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)

    def _restore_all_sysctls(self, state: dict[str, Any]) -> None:
        self.restored_at_stop = restore_sysctls(state.get("sysctls", {}))

    def _delete_nodes(self, state: dict[str, Any]) -> None:
        """Best effort: the control plane may be gone already."""
        cp = state.get("control_plane") or {}
        if not cp:
            return
        for name in state.get("nodes", {}):
            req = urllib.request.Request(f"{cp['host']}/api/v1/nodes/{name}", method="DELETE",
                                         headers={"Authorization": f"Bearer {cp['token']}"})
            with contextlib.suppress(OSError, ssl.SSLError, urllib.error.URLError):
                ctx = ssl.create_default_context(cafile=cp["ca_file"])
                with urllib.request.urlopen(req, context=ctx, timeout=5):
                    pass


def _now_rfc3339() -> str:
    """Now, to the second, as the apiserver writes times (so that strings compare as times)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _unmount_all(roots: list[str]) -> None:
    for _attempt in range(5):
        mounts = _mounts_under(roots)
        if not mounts:
            return
        for m in mounts:
            _umount(m)
    raise RealNodeError(f"still mounted: {_mounts_under(roots)}")


def _flush_conntrack(nets: list[str]) -> None:
    if not shutil.which("conntrack"):
        return
    for net in nets:
        for flag in ("-s", "-d"):
            _run(["conntrack", "-D", flag, net], check=False)  # exits 1 when nothing matched


@contextlib.contextmanager
def control_plane_with_zone_nodes(base: Path, zones: Sequence[str] = ZONES, *,
                                  grace: float = ZONE_GRACE) -> Iterator[tuple[K8sControlPlane, RealNode]]:
    """A control plane of its own (a silent node is Unknown after `grace` seconds) with a real node per zone
    (zone_node_specs); both stopped on exit. Yields (cp, host); host.by_zone[zone] is that zone's Node."""
    specs = zone_node_specs(zones)
    cp = K8sControlPlane(base / "k8s", real_node=True, node_names=tuple(s.name for s in specs),
                         node_monitor_grace=grace)
    try:
        cp.start()
        host = RealNode(cp, base / "nodes", nodes=specs)
        try:
            host.start()
            yield cp, host
        finally:
            host.stop()
    finally:
        cp.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("down", "leftovers", "build"))
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    if args.action == "build":
        ensure_node_packages()
        for key, value in ensure_node_binaries().items():
            print(f"{key}={value}")
        for ref, archive in ensure_images().items():
            print(f"{ref}={archive}")
        return 0
    host = RealNode(None, args.workdir)
    if args.action == "down":
        host.stop()
    left = host.leftovers()
    for item in left:
        print(item)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
