"""A real Kubernetes control plane for the test bed, without containers.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real
binaries (built from the Go module proxy by build_k8s.sh); kwok plays the
kubelets. Everything a test observes about StatefulSets, PVC binding,
scheduling and server-side apply comes from the real controllers; only the
node and pod lifecycles and the volume provisioner are kwok Stages.

Pod readiness can be steered per pod with annotations:
  testbed.pinotops.io/ready-delay: "3s"   Running at once, Ready after 3s
  testbed.pinotops.io/hold-ready: "true"  Running, never Ready (until removed)

`real_node=True` prepares the control plane for real kubelets (real_node.py): static
tokens for the nodes' components (a kubelet token per name in `node_names`), a kubelet
client certificate for the apiserver and `--kubelet-preferred-address-types=InternalIP,Hostname`
(logs/exec reach a node by IP). Off by default: without it nothing of this exists.
`node_monitor_grace=15` makes the node lifecycle controller call a silent node Unknown after
15 s instead of 50 (kwok's and the kubelets' leases are shortened to match); None keeps the defaults.

Stdlib and PyYAML (for kwok/stages.yaml) only; certificates are made with the openssl CLI.

Standalone CLI (the Makefile's `python -m tests.testbed` drives the same class):
  python tests/testbed/k8s.py build                  build or check the binaries
  python tests/testbed/k8s.py up|down [--workdir DIR]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.testbed.ports import free_ports

BUILD_SCRIPT = Path(__file__).resolve().with_name("build_k8s.sh")
DEFAULT_WORKDIR = Path.home() / ".cache" / "pinotops-testbed" / "run" / "k8s"

ZONES = ("zone-a", "zone-b", "zone-c")
REGION = "testbed"
NODES_PER_ZONE = 2
NODE_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "200Gi"}
STORAGE_CLASS = "standard"
PROVISIONER = "testbed.pinotops.io/kwok-volume"
ANN_READY_DELAY = "testbed.pinotops.io/ready-delay"
ANN_HOLD_READY = "testbed.pinotops.io/hold-ready"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# The real node (real_node.py) and the static-token identities of the components real nodes share,
# created only with real_node=True: name -> (user, groups). Each kubelet has its own: kubelet_identity().
REAL_NODE_NAME = "real-node-0"
REAL_NODE_IDENTITIES = {
    # Bound to system:node-proxier by the bootstrap RBAC policy.
    "kube-proxy": ("system:kube-proxy", ""),
    # Bound by real_node.py to a ClusterRole that reads services and endpoint slices.
    "coredns": ("pinotops-testbed:coredns", ""),
}


DEFAULT_LEASE_SECONDS = 40  # the kubelet's default node lease, and kwok's here


def kubelet_identity(node: str) -> tuple[str, str]:
    """(user, groups) of a node's kubelet: the Node authorizer grants it what it needs for its own node."""
    return f"system:node:{node}", "system:nodes"


def kubelet_token_key(node: str) -> str:
    """The key of a node's kubelet token in K8sControlPlane.node_tokens."""
    return f"kubelet/{node}"


def lease_seconds(node_monitor_grace: float | None) -> int:
    """Node lease duration for a grace period: leases are renewed every quarter of it, so a grace of 15 s
    sees six renewals of a 10 s lease; a live node under load must not be called Unknown."""
    if node_monitor_grace is None:
        return DEFAULT_LEASE_SECONDS
    return max(4, int(node_monitor_grace * 2 // 3))


class BinariesError(RuntimeError):
    """build_k8s.sh could not provide the binaries."""


class ControlPlaneError(RuntimeError):
    """A component did not start or did not become ready."""


def ensure_binaries() -> dict[str, str]:
    """Build (or find cached) binaries; returns name -> path plus *_version keys."""
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-paths"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        raise BinariesError(f"{BUILD_SCRIPT} exited with {proc.returncode}:\n{tail}")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


# --------------------------------------------------------------------------
# kwok Stages: kwok/stages.yaml, whose @NAME@ placeholders stand for values
# Python owns. They are filled in the parsed strings, so a value can't change
# the YAML's structure, and the syntax stays clear of kwok's Go {{ }}.

KWOK_STAGES = Path(__file__).resolve().with_name("kwok") / "stages.yaml"
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def kwok_stages(kube_version: str, volumes_dir: Path) -> list[dict[str, Any]]:
    """All Stages the test bed's kwok runs with; provisioned volumes live under `volumes_dir` (only pods of the
    real node ever write there)."""
    values = {
        # These two land in node status templates as YAML values, hence JSON.
        "KUBE_VERSION": json.dumps(kube_version),
        "CAPACITY": json.dumps(NODE_CAPACITY),
        "VOLUMES_DIR": str(volumes_dir),
        "PROVISIONER": PROVISIONER,
        "ANN_HOLD_READY": ANN_HOLD_READY,
        "ANN_READY_DELAY": ANN_READY_DELAY,
    }

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, list):
            return [fill(value) for value in node]
        if isinstance(node, str):
            return _PLACEHOLDER.sub(lambda m: values[m[1]], node)
        return node

    return fill(yaml.safe_load(KWOK_STAGES.read_text()))


def bootstrap_objects() -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object) pairs created right after the apiserver is ready."""
    objs: list[tuple[str, dict[str, Any]]] = [
        (
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": STORAGE_CLASS,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": PROVISIONER,
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
            },
        )
    ]
    for z, zone in enumerate(ZONES):
        for i in range(NODES_PER_ZONE):
            name = f"kwok-{zone}-{i}"
            objs.append(
                (
                    "/api/v1/nodes",
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "metadata": {
                            "name": name,
                            "labels": {
                                "kubernetes.io/hostname": name,
                                "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64",
                                "node.kubernetes.io/instance-type": "testbed-8c32g",
                                "topology.kubernetes.io/region": REGION,
                                "topology.kubernetes.io/zone": zone,
                                "type": "kwok",
                            },
                            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                        },
                        "spec": {},
                        "status": {
                            "capacity": NODE_CAPACITY,
                            "allocatable": NODE_CAPACITY,
                            # Distinct node IPs; kwok's own default would give every node the same one.
                            "addresses": [
                                {"type": "InternalIP", "address": f"10.1.{z}.{i + 10}"},
                                {"type": "Hostname", "address": name},
                            ],
                        },
                    },
                )
            )
    return objs


# --------------------------------------------------------------------------


def _openssl(cwd: Path, cmdline: str) -> None:
    # File names are fixed and relative to cwd, so splitting on spaces is safe.
    proc = subprocess.run(["openssl", *cmdline.split()], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {cmdline} failed: {proc.stderr.strip()}")


_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,\
DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def make_pki(pki: Path) -> None:
    """CA, apiserver serving cert signed by it, service account key pair (EC: fast to make)."""
    pki.mkdir(parents=True, exist_ok=True)
    (pki / "openssl.cnf").write_text(_OPENSSL_CNF)
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    serial = int.from_bytes(os.urandom(8), "big")
    _openssl(
        pki,
        f"req -config openssl.cnf -x509 {ec} -keyout ca.key -out ca.crt -days 3650"
        " -subj /CN=pinotops-testbed-ca -extensions ca",
    )
    _openssl(
        pki, f"req -config openssl.cnf -new {ec} -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver"
    )
    _openssl(
        pki,
        f"x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -set_serial {serial} -days 365"
        " -extfile openssl.cnf -extensions server -out apiserver.crt",
    )
    _openssl(pki, "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out sa.key")
    _openssl(pki, "pkey -in sa.key -pubout -out sa.pub")


def make_kubelet_client_cert(pki: Path) -> None:
    """The apiserver's client certificate towards kubelets (logs, exec), signed by the test bed CA.

    system:masters, so a kubelet's webhook authorizer (a SubjectAccessReview) allows it.
    """
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    serial = int.from_bytes(os.urandom(8), "big")
    _openssl(
        pki,
        f"req -config openssl.cnf -new {ec} -keyout kubelet-client.key -out kubelet-client.csr"
        " -subj /O=system:masters/CN=kube-apiserver-kubelet-client",
    )
    _openssl(
        pki,
        f"x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -set_serial {serial} -days 365"
        " -extfile openssl.cnf -extensions client -out kubelet-client.crt",
    )


def spawn(argv: list[str], log_file: Path, cwd: Path, *, detach: bool) -> subprocess.Popen:
    """A daemon in its own session, output appended to `log_file`; unless `detach`, it dies with this process."""
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            # Only calls prctl, resolved before the fork: safe with threads.
            preexec_fn=None if detach else _die_with_parent,  # noqa: PLW1509
        )


def wait_for(what: str, timeout: float, ready: Any, *, procs: dict[str, subprocess.Popen], log_tail: Any,
             error: type[Exception], logs: Path) -> None:
    """Poll `ready()` until true; fail early, with its log tail, when one of `procs` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise error(f"{name} exited with {proc.returncode} while waiting for {what}:\n" + log_tail(name))
        if ready():
            return
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout}s waiting for {what}; logs in {logs}")
        time.sleep(0.2)


# Looked up here, not in the forked child, so the child never takes the
# dynamic loader's lock (another thread may have held it at fork time).
_prctl = ctypes.CDLL(None, use_errno=True).prctl
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process dies (even SIGKILL),
    # the kernel kills the component too, so nothing outlives a crashed run.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _proc_alive(pid: int, exe: str) -> bool:
    """True if pid runs `exe` and is not a zombie (guards against pid reuse)."""
    try:
        if os.path.realpath(f"/proc/{pid}/exe") != os.path.realpath(exe):
            return False
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class K8sControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok.

    `detach=True` lets the processes outlive this Python process (the
    `up` CLI); otherwise they die with it. `real_node=True` also makes what
    real kubelets need (see the module docstring); `node_tokens` then maps
    each REAL_NODE_IDENTITIES name and kubelet_token_key(node) of each of
    `node_names` to its bearer token.
    """

    def __init__(self, workdir: Path, *, detach: bool = False, real_node: bool = False,
                 node_names: tuple[str, ...] = (REAL_NODE_NAME,), node_monitor_grace: float | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.detach = detach
        self.real_node = real_node
        self.node_names = node_names
        self.node_monitor_grace = node_monitor_grace
        self.node_lease_seconds = lease_seconds(node_monitor_grace)
        self.node_tokens: dict[str, str] = {}
        self.host = ""
        self.token = ""
        self.ca_file = self.workdir / "pki" / "ca.crt"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.state_file = self.workdir / "state.json"
        self.pids: dict[str, int] = {}
        self.bin: dict[str, str] = {}
        self.startup_seconds = 0.0
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._ssl: ssl.SSLContext | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> K8sControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.bin = ensure_binaries()
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stop()  # a previous run in this workdir (state.json) must not linger
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0

    def _start(self) -> None:
        wd = self.workdir
        for sub in ("etcd", "logs", "pki"):
            shutil.rmtree(wd / sub, ignore_errors=True)
        (wd / "logs").mkdir()
        make_pki(wd / "pki")
        pki = wd / "pki"
        self.token = secrets.token_hex(24)
        tokens = [f'{self.token},testbed-admin,testbed-admin,"system:masters"']
        kubelet_access: list[str] = []
        if self.real_node:
            identities = {**REAL_NODE_IDENTITIES,
                          **{kubelet_token_key(n): kubelet_identity(n) for n in self.node_names}}
            self.node_tokens = {name: secrets.token_hex(24) for name in identities}
            for name, (user, groups) in identities.items():
                tokens.append(f"{self.node_tokens[name]},{user},{user}" + (f',"{groups}"' if groups else ""))
            make_kubelet_client_cert(pki)
            kubelet_access = [
                # The node's Hostname address (its name) resolves nowhere; its InternalIP is local.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'kubelet-client.key'}",
            ]
        (pki / "tokens.csv").write_text("\n".join(tokens) + "\n")
        ports = free_ports(["etcd", "etcd_peer", "apiserver"])
        etcd_port, peer_port, api_port = ports["etcd"], ports["etcd_peer"], ports["apiserver"]
        self.host = f"https://127.0.0.1:{api_port}"
        self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
        self._write_kubeconfig()

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn(
            "etcd",
            [
                self.bin["etcd"],
                "--name=testbed",
                f"--data-dir={wd / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=testbed=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",  # throwaway data: skip fsync, like envtest
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", 30, lambda: self._http_ok(f"{etcd_url}/health"))

        self._spawn(
            "kube-apiserver",
            [
                self.bin["kube-apiserver"],
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={self.ca_file}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # A loopback advertise address can't back the `kubernetes` Service.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",  # saves CPU on a 2-core box
                "--profiling=false",
                *kubelet_access,
            ],
        )
        self._wait("kube-apiserver", 60, lambda: self._api_ok("/readyz"))
        for path, obj in bootstrap_objects():
            self.request("POST", path, obj)

        kubeconfig = str(self.kubeconfig)
        node_monitor = []
        if self.node_monitor_grace is not None:
            node_monitor = [f"--node-monitor-grace-period={self.node_monitor_grace:g}s", "--node-monitor-period=1s"]
        self._spawn(
            "kube-controller-manager",
            [
                self.bin["kube-controller-manager"],
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={self.ca_file}",
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--profiling=false",
                *node_monitor,
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                self.bin["kube-scheduler"],
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                "--profiling=false",
            ],
        )
        stages = wd / "kwok-stages.yaml"
        # JSON documents are YAML documents.
        stages.write_text("\n---\n".join(json.dumps(s) for s in kwok_stages(self.bin["k8s_version"], wd / "volumes")))
        self._spawn(
            "kwok",
            [
                self.bin["kwok"],
                f"--kubeconfig={kubeconfig}",
                f"--config={stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                f"--cidr={POD_CIDR}",
                f"--node-lease-duration-seconds={self.node_lease_seconds}",
            ],
        )
        self._wait("nodes Ready and schedulable", 60, self._nodes_ready)
        self._wait(
            "default service account", 60, lambda: self._api_ok("/api/v1/namespaces/default/serviceaccounts/default")
        )
        self._probe_pod()

    def stop(self) -> None:
        """Kill every component (TERM, then KILL after 10s); safe to call repeatedly
        and from another process (reads state.json)."""
        procs = self._load_state()
        if not procs:
            return
        live = [(name, pid, exe) for name, (pid, exe) in procs.items() if _proc_alive(pid, exe)]
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            for _name, pid, _exe in reversed(live):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)
            deadline = time.monotonic() + grace
            while live and time.monotonic() < deadline:
                for proc in self._procs.values():
                    proc.poll()  # reap our own children so they don't linger as zombies
                live = [p for p in live if _proc_alive(p[1], p[2])]
                if live:
                    time.sleep(0.1)
            if not live:
                break
        for proc in self._procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        if live:
            raise ControlPlaneError(f"could not kill {[(n, p) for n, p, _proc in live]}")
        self._procs.clear()
        self.pids.clear()
        self.state_file.unlink(missing_ok=True)

    def restart_apiserver(self, down_seconds: float) -> float:
        """Stop kube-apiserver (TERM, KILL after 10 s), keep it down, start it with the same arguments.

        Returns the seconds it was unreachable. Only for a control plane this process started.
        """
        proc = self._procs.get("kube-apiserver")
        if proc is None:
            raise ControlPlaneError("the apiserver was not started by this process (attached test bed): cannot restart")
        argv = proc.args
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # graceful shutdown drains long requests; do not wait for it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        stopped = time.monotonic()
        time.sleep(down_seconds)
        self._spawn("kube-apiserver", argv)
        self._wait("kube-apiserver ready after a restart", 90, lambda: self._api_ok("/readyz"))
        return time.monotonic() - stopped

    @classmethod
    def attach(cls, workdir: Path) -> K8sControlPlane:
        """Connect to a control plane started by another process (`up` CLI)."""
        cp = cls(workdir, detach=True)
        if not cp.state_file.is_file():
            raise ControlPlaneError(
                f"{cp.state_file} not found: no control plane was started in {cp.workdir} "
                "(PINOTOPS_TESTBED_KUBECONFIG must name the kubeconfig k8s.py wrote there)"
            )
        state = json.loads(cp.state_file.read_text())
        cp.host, cp.token = state["host"], state["token"]
        cp.node_tokens = state.get("node_tokens", {})
        cp.node_lease_seconds = state.get("node_lease_seconds", DEFAULT_LEASE_SECONDS)
        cp.real_node = bool(cp.node_tokens)
        cp.pids = {n: p["pid"] for n, p in state["processes"].items()}
        cp._ssl = ssl.create_default_context(cafile=str(cp.ca_file))
        dead = [n for n, p in state["processes"].items() if not _proc_alive(p["pid"], p["exe"])]
        if dead:
            raise ControlPlaneError(f"control plane in {workdir} is not running: {dead} exited")
        return cp

    # -- API access (stdlib) -----------------------------------------------

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.host + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=10) as resp:
                raw = resp.read()
                # Health endpoints answer text/plain "ok".
                return json.loads(raw) if resp.headers.get_content_type() == "application/json" else raw.decode()
        except urllib.error.HTTPError as e:
            raise ControlPlaneError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}") from e

    def get_or_none(self, path: str) -> Any:
        """GET `path`; None when the object does not exist."""
        try:
            return self.request("GET", path)
        except ControlPlaneError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def wait_gone(self, path: str, timeout: float = 120) -> None:
        """Poll until GET `path` answers 404; ControlPlaneError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.get_or_none(path) is not None:
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{path} still exists after {timeout} s")
            time.sleep(1)

    # -- internals -----------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        proc = spawn(argv, self.workdir / "logs" / f"{name}.log", self.workdir, detach=self.detach)
        self._procs[name] = proc
        self.pids[name] = proc.pid
        self._write_state()

    def _write_state(self) -> None:
        state = {
            "host": self.host,
            "token": self.token,
            "ca_file": str(self.ca_file),
            "kubeconfig": str(self.kubeconfig),
            "processes": {n: {"pid": p, "exe": self.bin[n]} for n, p in self.pids.items()},
        }
        if self.node_tokens:
            state["node_tokens"] = self.node_tokens
            state["node_lease_seconds"] = self.node_lease_seconds
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def _load_state(self) -> dict[str, tuple[int, str]]:
        if self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            return {n: (p["pid"], p["exe"]) for n, p in state["processes"].items()}
        return {n: (pid, self.bin[n]) for n, pid in self.pids.items()}

    def _write_kubeconfig(self) -> None:
        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "testbed",
            "clusters": [{"name": "testbed", "cluster": {"server": self.host, "certificate-authority-data": ca}}],
            "users": [{"name": "testbed-admin", "user": {"token": self.token}}],
            "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": "testbed-admin"}}],
        }
        self.kubeconfig.write_text(json.dumps(cfg, indent=2))  # JSON is valid kubeconfig YAML
        self.kubeconfig.chmod(0o600)

    def _wait(self, what: str, timeout: float, ready: Any) -> None:
        wait_for(what, timeout, ready, procs=self._procs, log_tail=self._log_tail, error=ControlPlaneError,
                 logs=self.workdir / "logs")

    def _log_tail(self, name: str, lines: int = 30) -> str:
        text = (self.workdir / "logs" / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _http_ok(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _api_ok(self, path: str) -> bool:
        try:
            self.request("GET", path)
            return True
        except (ControlPlaneError, OSError):
            return False

    def _nodes_ready(self) -> bool:
        try:
            nodes = self.request("GET", "/api/v1/nodes")["items"]
        except (ControlPlaneError, OSError):
            return False
        if len(nodes) < len(ZONES) * NODES_PER_ZONE:
            return False
        for node in nodes:
            conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
            # The not-ready taint is lifted by the real node lifecycle controller.
            if conds.get("Ready") != "True" or node["spec"].get("taints"):
                return False
        return True

    def _probe_pod(self) -> None:
        """Schedule one pod end to end (scheduler + kwok) before declaring ready."""
        path = "/api/v1/namespaces/default/pods"
        self.request(
            "POST",
            path,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "testbed-probe"},
                "spec": {
                    "containers": [{"name": "probe", "image": "testbed/probe"}],
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 1,
                },
            },
        )

        def ready() -> bool:
            pod = self.request("GET", f"{path}/testbed-probe")
            return any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", [])
            )

        self._wait("probe pod Ready", 60, ready)
        self.request("DELETE", f"{path}/testbed-probe")  # kwok completes the deletion


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("up", "down", "build"))
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("PINOTOPS_TESTBED_K8S_WORKDIR", DEFAULT_WORKDIR))
    )
    args = parser.parse_args(argv)
    if args.action == "build":
        for key, value in ensure_binaries().items():
            print(f"{key}={value}")
        return 0
    cp = K8sControlPlane(args.workdir, detach=True)
    if args.action == "down":
        cp.stop()
        return 0
    cp.start()
    print(f"control plane up in {cp.startup_seconds:.1f}s: {cp.host}", file=sys.stderr)
    print(f"export PINOTOPS_TESTBED_KUBECONFIG={cp.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
