"""A real Kubernetes node for the test bed: pods really run.

kubelet and kube-proxy (the control plane's release, built by `build_k8s.sh --node`), containerd, runc and the
CNI plugins from Debian, and CoreDNS (built from the Go module proxy, serving `cluster.local` only) join the test
bed's own control plane (k8s.py, started with `real_node=True`) as node `real-node-0`: no taints, labelled
`testbed.pinotops.io/real-node=true`, next to the kwok nodes (kwok only manages the nodes it created).

Network: nothing leaves the machine. The node address 10.250.0.1 lives on a dummy link of the test bed's own
(`pinotops0`); it is the kubelet's node IP and serving address and CoreDNS's address (the pods' nameserver).
Pods get 10.244.255.0/24 on the bridge `pinotops-br0` (CNI bridge + host-local). The apiserver stays on
127.0.0.1: the kubelet, kube-proxy and CoreDNS run on the host and reach it there; pods cannot (the
`kubernetes` Service has no endpoints). While the node runs, the guard chains PINOTOPS-GUARD-OUT/-FWD refuse
any packet to the test bed's address ranges (services, pods, kwok node IPs, node net) that would not stay on
loopback or the bridge, and any forwarding but bridge to bridge, so nothing (a ClusterIP backed by a kwok
pod, a pod's packet to the outside) can be routed off the machine. containerd resolves every registry to a
closed port on 127.0.0.1: images are built here and imported, never pulled.

Images: a static C `pause` of our own as `registry.k8s.io/pause:3.10` (the sandbox image) and a static C
HTTP responder as `testbed.pinotops.io/echo:1` (answers its hostname on $POD_IP:<its argument>), packaged with
umoci + skopeo, cached by source hash, imported with `ctr images import`.

The kubelet writes VM-wide sysctls when it starts (vm.overcommit_memory=1, kernel.panic=10,
kernel.panic_on_oops=1); they are saved before start and restored as soon as the node is Ready, all saved
sysctls again at stop. `stop()` works from any process (workdir/state.json) and leaves nothing behind;
`leftovers()` lists what is still there.

Stdlib only. CLI: python -m tests.testbed.real_node down|leftovers --workdir DIR
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import glob
import hashlib
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.testbed.k8s import (
    POD_CIDR,
    REAL_NODE_IDENTITIES,
    REAL_NODE_NAME,
    SERVICE_CIDR,
    K8sControlPlane,
    _proc_alive,
    spawn,
    wait_for,
)
from tests.testbed.ports import free_ports
from tests.testbed.progress import last_line, run_with_progress

BUILD_SCRIPT = Path(__file__).resolve().with_name("build_k8s.sh")
CACHE_DIR = Path(os.environ.get("PINOTOPS_TESTBED_CACHE", Path.home() / ".cache" / "pinotops-testbed"))

NODE_NAME = REAL_NODE_NAME
NODE_LABEL = "testbed.pinotops.io/real-node"
NODE_IP = "10.250.0.1"
NODE_NET = "10.250.0.0/16"
NODE_LINK = "pinotops0"
# A dummy link where the kernel has the driver, else (as on this machine kind) one end of a veth pair whose
# other end stays unused: either way a link of our own, and its address is local.
NODE_LINK_PEER = "pinotops0-peer"
BRIDGE = "pinotops-br0"
# Inside the control plane's pod CIDR, far from the start of it, where kwok hands out its fake pod IPs.
POD_SUBNET = "10.244.255.0/24"
POD_GATEWAY = "10.244.255.1"
KWOK_NODE_NET = "10.1.0.0/16"  # k8s.bootstrap_objects gives the kwok nodes 10.1.<zone>.<10+i>
GUARDED_NETS = (SERVICE_CIDR, POD_CIDR, KWOK_NODE_NET, NODE_NET)
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
IPTABLES_TOOLS = ("iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy")

COMPONENTS = ("containerd", "coredns", "kubelet", "kube-proxy")  # started in this order, stopped in reverse


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


def _cgroup_roots() -> list[str]:
    roots = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _dash, right = line.partition(" - ")
        if right.split()[0] in ("cgroup", "cgroup2"):
            roots.append(left.split()[4])
    return sorted(set(roots))


def _kubepods_cgroups() -> list[str]:
    """Every kubepods cgroup directory, deepest first."""
    dirs = []
    for root in _cgroup_roots():
        top = os.path.join(root, "kubepods")
        if os.path.isdir(top):
            dirs.extend(dirpath for dirpath, _dirs, _files in os.walk(top))
    return sorted(dirs, key=lambda p: -p.count("/"))


def _kubepods_pids() -> set[int]:
    pids = set()
    for cg in _kubepods_cgroups():
        with contextlib.suppress(OSError):
            pids.update(int(x) for x in Path(cg, "cgroup.procs").read_text().split())
    return pids


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _bridge_ports() -> list[str]:
    with contextlib.suppress(OSError):
        return sorted(os.listdir(f"/sys/class/net/{BRIDGE}/brif"))
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
        if flag in ("-i", "-o", "--in-interface", "--out-interface") and value in (BRIDGE, NODE_LINK, NODE_LINK_PEER):
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


def _guard_rules(forwarding_was_off: bool) -> str:
    """iptables-restore input for the guard chains.

    mangle POSTROUTING sees the device a packet really leaves by: anything for the test bed's ranges that
    would leave by another one than loopback or the bridge is dropped there. filter OUTPUT refuses the same
    early (a quick error instead of a timeout), but its -o is the device routed before a DNAT: a ClusterIP
    packet DNATed to a pod of the bridge still names the default route's device there, hence the exception.
    """
    lines = ["*mangle", f":{GUARD_POST} - [0:0]"]
    lines += [f"-A {GUARD_POST} -o lo -j RETURN", f"-A {GUARD_POST} -o {BRIDGE} -j RETURN"]
    lines += [f"-A {GUARD_POST} -d {net} -j DROP" for net in GUARDED_NETS]
    lines += [f"-I POSTROUTING 1 -j {GUARD_POST}", "COMMIT"]
    lines += ["*filter", f":{GUARD_OUT} - [0:0]", f":{GUARD_FWD} - [0:0]"]
    lines += [f"-A {GUARD_OUT} -o lo -j RETURN", f"-A {GUARD_OUT} -o {BRIDGE} -j RETURN",
              f"-A {GUARD_OUT} -d {POD_SUBNET} -m conntrack --ctstate DNAT -j RETURN"]
    lines += [f"-A {GUARD_OUT} -d {net} -j REJECT" for net in GUARDED_NETS]
    lines += [
        f"-A {GUARD_FWD} -i {BRIDGE} -o {BRIDGE} -j RETURN",
        f"-A {GUARD_FWD} -i {BRIDGE} -j DROP",
        f"-A {GUARD_FWD} -o {BRIDGE} -j DROP",
    ]
    if forwarding_was_off:  # the machine did not forward before: it still forwards nothing else
        lines.append(f"-A {GUARD_FWD} -j DROP")
    lines += [f"-I OUTPUT 1 -j {GUARD_OUT}", f"-I FORWARD 1 -j {GUARD_FWD}", "COMMIT"]
    return "\n".join(lines) + "\n"


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


class RealNode:
    """kubelet + kube-proxy + containerd + CoreDNS as node `real-node-0` of `control_plane`.

    `control_plane` must have been started with real_node=True (or attached to one that was); it may be None
    for `stop()`/`leftovers()` of a node another process started (workdir/state.json).
    `detach=True` lets the daemons outlive this Python process; otherwise they die with it (containerd's
    shims and the containers do not: `stop()` from state.json takes care of them).
    """

    def __init__(self, control_plane: K8sControlPlane | None, workdir: Path, *, detach: bool = False) -> None:
        self.cp = control_plane
        self.workdir = Path(workdir).resolve()
        self.detach = detach
        self.state_file = self.workdir / "state.json"
        self.logs = self.workdir / "logs"
        self.socket = self.workdir / "containerd" / "containerd.sock"
        self.bin: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self.saved_sysctls: dict[str, str] = {}
        self.restored_after_ready: dict[str, str] = {}
        self.restored_at_stop: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._state: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> RealNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> RealNode:
        if self.cp is None or not self.cp.node_tokens:
            raise RealNodeError("the control plane must be started with K8sControlPlane(..., real_node=True)")
        t0 = time.monotonic()
        ensure_node_packages(self.workdir / "setup-logs")
        self.bin = ensure_node_binaries()
        images = ensure_images()
        self.timings["prepare"] = time.monotonic() - t0
        self.stop()  # a previous node of this workdir
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
        """Another node (or a crashed one whose state is lost) owns the fixed names: do not take them over."""
        busy = [f"link {n}" for n in (NODE_LINK, NODE_LINK_PEER, BRIDGE) if _link_exists(n)]
        busy += [f"cgroup {c}" for c in _kubepods_cgroups()[-1:]]
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
        for sub in ("logs", "containerd", "cni", "kubelet", "kube-proxy", "coredns", "pod-logs", "runc"):
            shutil.rmtree(wd / sub, ignore_errors=True)
        for sub in ("logs", "containerd/certs.d/_default", "cni/net.d", "cni/ipam", "kubelet/root", "kubelet/pki",
                    "kubelet/volume-plugins", "kube-proxy", "coredns", "pod-logs", "runc"):
            (wd / sub).mkdir(parents=True, exist_ok=True)

        self.saved_sysctls = read_sysctls()
        self._state = {
            "node": NODE_NAME,
            "socket": str(self.socket),
            "processes": {},
            "sysctls": self.saved_sysctls,
            "absent_paths": [p for p in GLOBAL_PATHS if not os.path.lexists(p)],
            "nft_tables": sorted(_nft_tables()),
            "veths": [],
            "control_plane": {"host": self.cp.host, "token": self.cp.token, "ca_file": str(self.cp.ca_file)},
        }
        self._write_state()

        # The node's own address on a link of our own, then the guard before anything can route.
        if subprocess.run(["ip", "link", "add", NODE_LINK, "type", "dummy"], capture_output=True,
                          check=False).returncode != 0:
            _run(["ip", "link", "add", NODE_LINK, "type", "veth", "peer", "name", NODE_LINK_PEER])
            _run(["ip", "link", "set", NODE_LINK_PEER, "up"])
        _run(["ip", "addr", "add", f"{NODE_IP}/32", "dev", NODE_LINK])
        _run(["ip", "link", "set", NODE_LINK, "up"])
        forwarding_was_off = self.saved_sysctls.get("net.ipv4.ip_forward") == "0"
        _run(["iptables-restore", "--noflush"], input_text=_guard_rules(forwarding_was_off))

        self._write_configs()
        t = time.monotonic()
        self._spawn("containerd", [CONTAINERD, "--config", str(wd / "containerd" / "config.toml")])
        self._wait("containerd", 60, self._ctr_ok)
        for ref, archive in images.items():
            self.import_image(archive, ref)
        self.timings["containerd"] = time.monotonic() - t

        t = time.monotonic()
        self._coredns_rbac()
        self._spawn("coredns", [self.bin["coredns"], "-conf", str(wd / "coredns" / "Corefile")])
        self._wait("CoreDNS ready", 60, lambda: _http_ok(f"http://127.0.0.1:{self._state['ports']['coredns_ready']}"
                                                         "/ready"))
        self.timings["coredns"] = time.monotonic() - t

        t = time.monotonic()
        self._spawn(
            "kubelet",
            [
                self.bin["kubelet"],
                f"--config={wd / 'kubelet' / 'config.yaml'}",
                f"--kubeconfig={wd / 'kubelet' / 'kubeconfig'}",
                f"--root-dir={wd / 'kubelet' / 'root'}",
                f"--cert-dir={wd / 'kubelet' / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                f"--node-labels={NODE_LABEL}=true",
                "--v=2",
            ],
        )
        kubelet_started = t

        def ready() -> bool:
            # The kubelet writes its kernel tunables once, when its container manager starts: put them back
            # as soon as they change, and once more when the node is Ready.
            self.restored_after_ready.update(restore_sysctls(self.saved_sysctls, skip=SYSCTL_NODE_NEEDS))
            state = self._node_state()
            if state and "kubelet_ready" not in self.timings:
                self.timings["kubelet_ready"] = time.monotonic() - kubelet_started
            return state == "schedulable"

        self._wait("node Ready and untainted", 120, ready)
        self.timings["node_ready"] = time.monotonic() - t
        self.restored_after_ready.update(restore_sysctls(self.saved_sysctls, skip=SYSCTL_NODE_NEEDS))

        t = time.monotonic()
        self._spawn("kube-proxy", [self.bin["kube-proxy"], f"--config={wd / 'kube-proxy' / 'config.yaml'}", "--v=2"])
        self._wait("kube-proxy healthy", 60,
                   lambda: _http_ok(f"http://127.0.0.1:{self._state['ports']['proxy_healthz']}/healthz"))
        self.timings["kube_proxy"] = time.monotonic() - t

    def import_image(self, archive: Path, ref: str | None = None) -> None:
        """Load an OCI archive into the node's containerd (namespace k8s.io, where the kubelet looks).

        Pods then use it with imagePullPolicy IfNotPresent or Never: nothing is ever pulled.
        """
        _run([CTR, "--address", str(self.socket), "-n", "k8s.io", "images", "import", str(archive)], timeout=600)
        if ref and ref not in _run([CTR, "--address", str(self.socket), "-n", "k8s.io", "images", "ls", "-q"]).split():
            raise RealNodeError(f"ctr images import {archive} did not create {ref}")

    def stop(self) -> None:
        """Tear everything down; safe to call repeatedly and from another process (reads state.json)."""
        state = self._state or self._load_state()
        if not state:
            return
        t0 = time.monotonic()
        errors: list[str] = []

        def step(what: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except Exception as exc:  # go on: every other step still has to run
                errors.append(f"{what}: {exc}")

        procs = state.get("processes", {})

        def stop_named(names: tuple[str, ...]) -> None:
            live = {procs[n]["pid"] for n in names if n in procs and _proc_alive(procs[n]["pid"], procs[n]["exe"])}
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                for pid in live:
                    _signal(pid, sig, group=True)
                live = _wait_dead(live, grace, self._reap)
                if not live:
                    return
            raise RealNodeError(f"could not kill {sorted(live)}")

        # The kubelet first, so that nothing restarts the containers.
        step("stop kubelet, kube-proxy, CoreDNS", lambda: stop_named(("kubelet", "kube-proxy", "coredns")))
        step("delete the Node object", lambda: self._delete_node(state))
        step("kill the containers", lambda: self._kill_containers(state))
        step("stop containerd", lambda: stop_named(("containerd",)))
        step("unmount", lambda: self._unmount(state))
        step("delete links", lambda: self._delete_links(state))
        step("iptables", _iptables_cleanup)
        step("nf_tables tables", lambda: _nft_cleanup(set(state.get("nft_tables", []))))
        step("conntrack", self._flush_conntrack)
        step("cgroups", self._remove_cgroups)
        step("paths", lambda: self._remove_paths(state))
        step("sysctls", lambda: self._restore_all_sysctls(state))
        self._procs.clear()
        self.pids.clear()
        self.timings["stop"] = time.monotonic() - t0
        if errors:
            self._state = state
            self._write_state()
            raise RealNodeError("teardown incomplete:\n" + "\n".join(errors))
        self._state = {}
        self.state_file.unlink(missing_ok=True)
        (self.workdir / "stopped.json").write_text(json.dumps({**state, "stop_seconds": self.timings["stop"]},
                                                              indent=2))

    def leftovers(self) -> list[str]:
        """Everything the node leaves on the machine that is still there ([] once stopped cleanly)."""
        state = self._state or self._load_state()
        if not state:
            with contextlib.suppress(OSError, ValueError):
                state = json.loads((self.workdir / "stopped.json").read_text())
        found = []
        for name, p in state.get("processes", {}).items():
            if _proc_alive(p["pid"], p["exe"]):
                found.append(f"process {name} pid {p['pid']}")
        found += [f"containerd shim pid {pid}" for pid in sorted(self._shim_pids(state))]
        found += [f"container process pid {pid}" for pid in sorted(_kubepods_pids())]
        roots = [str(self.workdir), *state.get("absent_paths", [])]
        found += [f"mount {m}" for m in _mounts_under(roots)]
        links = [n for n in (NODE_LINK, NODE_LINK_PEER, BRIDGE, *state.get("veths", [])) if _link_exists(n)]
        found += [f"link {n}" for n in links]
        found += _iptables_leftovers()
        if "nft_tables" in state:
            found += [f"nf_tables table {t}" for t in sorted(_nft_tables() - set(state["nft_tables"]))]
        found += [f"cgroup {c}" for c in _kubepods_cgroups()]
        found += [f"path {p}" for p in state.get("absent_paths", []) if os.path.lexists(p)]
        now = read_sysctls()
        found += [f"sysctl {k}={now.get(k)} (was {v})" for k, v in state.get("sysctls", {}).items()
                  if now.get(k) != v]
        return found

    # -- configuration -------------------------------------------------------

    def _write_configs(self) -> None:
        wd = self.workdir
        assert self.cp is not None
        ports = self._free_ports(["kubelet"], NODE_IP)
        ports.update(self._free_ports(["kubelet_healthz", "proxy_healthz", "proxy_metrics", "coredns_health",
                                       "coredns_ready"], "127.0.0.1"))
        self._state["ports"] = ports
        self._write_state()
        sock = self.socket
        (wd / "containerd" / "config.toml").write_text(f"""\
version = 2
root = "{wd / 'containerd' / 'root'}"
state = "{wd / 'containerd' / 'state'}"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{wd / 'containerd' / 'opt'}"

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
        Root = "{wd / 'runc'}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{wd / 'cni' / 'net.d'}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{wd / 'containerd' / 'certs.d'}"
""")
        # Every registry is a closed port on loopback: nothing is ever pulled from outside.
        for registry in REGISTRIES:
            (wd / "containerd" / "certs.d" / registry).mkdir(parents=True, exist_ok=True)
            (wd / "containerd" / "certs.d" / registry / "hosts.toml").write_text(
                'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n'
            )
        conflist = {
            "cniVersion": "1.0.0",
            "name": "pinotops-testbed",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # nothing leaves the machine, so nothing needs masquerading
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(wd / "cni" / "ipam"),
                    },
                }
            ],
        }
        (wd / "cni" / "net.d" / "10-pinotops.conflist").write_text(json.dumps(conflist, indent=2))

        tokens = self.cp.node_tokens
        self._kubeconfig(wd / "kubelet" / "kubeconfig", "kubelet", tokens["kubelet"])
        self._kubeconfig(wd / "kube-proxy" / "kubeconfig", "kube-proxy", tokens["kube-proxy"])
        self._kubeconfig(wd / "coredns" / "kubeconfig", "coredns", tokens["coredns"])
        # Pods of dnsPolicy Default read this too: the host's resolver is never theirs.
        (wd / "resolv.conf").write_text(f"nameserver {NODE_IP}\n")

        kubelet = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": ports["kubelet"],
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": ports["kubelet_healthz"],
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True, "cacheTTL": "10s"},
                "x509": {"clientCAFile": str(self.cp.ca_file)},
            },
            "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "10s",
                                                             "cacheUnauthorizedTTL": "5s"}},
            "containerRuntimeEndpoint": f"unix://{sock}",
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,  # this machine has cgroup v1; 1.34 refuses it unless told
            "failSwapOn": False,
            "protectKernelDefaults": False,  # true refuses to start: the kernel defaults differ
            "clusterDNS": [NODE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(wd / "resolv.conf"),
            "podLogsDir": str(wd / "pod-logs"),
            "volumePluginDir": str(wd / "kubelet" / "volume-plugins"),
            # Images are imported, never pulled: never collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%",
                             "imagefs.available": "1%"},
            "rotateCertificates": False,
            "serverTLSBootstrap": False,
            "registerNode": True,
            "shutdownGracePeriod": "0s",
            "serializeImagePulls": False,
            "maxPods": 110,
        }
        (wd / "kubelet" / "config.yaml").write_text(json.dumps(kubelet, indent=2))

        proxy = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(wd / "kube-proxy" / "kubeconfig")},
            "hostnameOverride": NODE_NAME,
            "bindAddress": NODE_IP,
            "healthzBindAddress": f"127.0.0.1:{ports['proxy_healthz']}",
            "metricsBindAddress": f"127.0.0.1:{ports['proxy_metrics']}",
            "mode": "iptables",
            "clusterCIDR": POD_SUBNET,
            "nodePortAddresses": [f"{NODE_IP}/32"],
            # No route_localnet: NodePorts only on the node address.
            "iptables": {"localhostNodePorts": False, "masqueradeAll": False, "syncPeriod": "30s",
                         "minSyncPeriod": "1s"},
            # 0 leaves the machine's conntrack limits and timeouts as they are.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            "oomScoreAdj": 0,
            "enableProfiling": False,
        }
        (wd / "kube-proxy" / "config.yaml").write_text(json.dumps(proxy, indent=2))

        (wd / "coredns" / "Corefile").write_text(f"""\
{CLUSTER_DOMAIN}:53 {{
    bind {NODE_IP}
    errors
    log
    health 127.0.0.1:{ports['coredns_health']}
    ready 127.0.0.1:{ports['coredns_ready']}
    kubernetes {CLUSTER_DOMAIN} {{
        kubeconfig {wd / 'coredns' / 'kubeconfig'} testbed
        pods disabled
        ttl 5
    }}
    cache 5
    reload
}}
""")

    def _kubeconfig(self, path: Path, user: str, token: str) -> None:
        assert self.cp is not None
        ca = base64.b64encode(self.cp.ca_file.read_bytes()).decode()
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "testbed",
            "clusters": [{"name": "testbed", "cluster": {"server": self.cp.host, "certificate-authority-data": ca}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": user}}],
        }
        path.write_text(json.dumps(cfg, indent=2))
        path.chmod(0o600)

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

    def _ctr_ok(self) -> bool:
        if not self.socket.exists():
            return False
        proc = subprocess.run([CTR, "--address", str(self.socket), "version"], capture_output=True, check=False,
                              timeout=10)
        return proc.returncode == 0

    def _node_state(self) -> str:
        """'' (not Ready), 'ready' (Ready, still tainted), 'schedulable' (Ready and untainted).

        The node lifecycle controller lifts the not-ready taint up to its 5 s monitor period after Ready.
        """
        assert self.cp is not None
        node = self.cp.get_or_none(f"/api/v1/nodes/{NODE_NAME}")
        if not node or conditions(node).get("Ready") != "True":
            return ""
        return "ready" if node["spec"].get("taints") else "schedulable"

    def _wait(self, what: str, timeout: float, ready: Callable[[], bool]) -> None:
        wait_for(what, timeout, ready, procs=self._procs, log_tail=self.log_tail, error=RealNodeError, logs=self.logs)

    def log_tail(self, name: str, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = (self.logs / f"{name}.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    # -- processes and state ---------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        proc = spawn(argv, self.logs / f"{name}.log", self.workdir, detach=self.detach)
        self._procs[name] = proc
        self.pids[name] = proc.pid
        self._state["processes"][name] = {"pid": proc.pid, "exe": argv[0]}
        self._write_state()

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

    # -- teardown steps --------------------------------------------------------

    def _shim_pids(self, state: dict[str, Any]) -> set[int]:
        """containerd-shim-runc-v2 processes serving our containerd: its socket is in their command line."""
        sock = state.get("socket")
        if not sock:
            return set()
        pids = set()
        for pid_file in glob.glob(f"{self.workdir}/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid"):
            with contextlib.suppress(OSError, ValueError):
                pids.add(int(Path(pid_file).read_text().strip()))
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                pids.add(int(entry))
        return {p for p in pids if os.path.basename(_exe_of(p)) == os.path.basename(SHIM)
                and sock in _cmdline(p) and _alive(p)}

    def _kill_containers(self, state: dict[str, Any]) -> None:
        victims = _kubepods_pids()
        for pid_file in glob.glob(f"{self.workdir}/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid"):
            with contextlib.suppress(OSError, ValueError):
                victims.add(int(Path(pid_file).read_text().strip()))
        victims = {p for p in victims if _alive(p)}
        for pid in victims:
            _signal(pid, signal.SIGKILL)
        left = _wait_dead(victims, 10)
        shims = self._shim_pids(state)
        for pid in shims:
            _signal(pid, signal.SIGTERM)
        shims = _wait_dead(shims, 3)
        for pid in shims:
            _signal(pid, signal.SIGKILL)
        shims = _wait_dead(shims, 5)
        if left or shims:
            raise RealNodeError(f"still alive: containers {sorted(left)}, shims {sorted(shims)}")

    def _unmount(self, state: dict[str, Any]) -> None:
        roots = [str(self.workdir), *state.get("absent_paths", [])]
        for _attempt in range(5):
            mounts = _mounts_under(roots)
            if not mounts:
                return
            for m in mounts:
                _umount(m)
        raise RealNodeError(f"still mounted: {_mounts_under(roots)}")

    def _delete_links(self, state: dict[str, Any]) -> None:
        veths = sorted(set(state.get("veths", [])) | set(_bridge_ports()))
        state["veths"] = veths
        names = (*veths, BRIDGE, NODE_LINK, NODE_LINK_PEER)
        for name in names:
            if _link_exists(name):
                _run(["ip", "link", "del", name], check=False)
        still = [n for n in names if _link_exists(n)]
        if still:
            raise RealNodeError(f"links still present: {still}")

    def _flush_conntrack(self) -> None:
        if not shutil.which("conntrack"):
            return
        for net in (POD_SUBNET, f"{NODE_IP}/32", SERVICE_CIDR):
            for flag in ("-s", "-d"):
                _run(["conntrack", "-D", flag, net], check=False)  # exits 1 when nothing matched

    def _remove_cgroups(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            for cg in _kubepods_cgroups():
                with contextlib.suppress(OSError):
                    os.rmdir(cg)
            left = _kubepods_cgroups()
            if not left:
                return
            if time.monotonic() > deadline:
                raise RealNodeError(f"cgroups not removable: {left[-3:]}")
            time.sleep(0.2)

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

    def _delete_node(self, state: dict[str, Any]) -> None:
        """Best effort: the control plane may be gone already."""
        cp = state.get("control_plane") or {}
        if not cp:
            return
        req = urllib.request.Request(f"{cp['host']}/api/v1/nodes/{state['node']}", method="DELETE",
                                     headers={"Authorization": f"Bearer {cp['token']}"})
        with contextlib.suppress(OSError, ssl.SSLError, urllib.error.URLError):
            ctx = ssl.create_default_context(cafile=cp["ca_file"])
            with urllib.request.urlopen(req, context=ctx, timeout=5):
                pass


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
    node = RealNode(None, args.workdir)
    if args.action == "down":
        node.stop()
    left = node.leftovers()
    for item in left:
        print(item)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
