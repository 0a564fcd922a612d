"""Running the collection's playbooks against the test bed, and reading what they did (tests and `make demo`)."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from tests.testbed.k8s import ControlPlaneError, K8sControlPlane

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def run_playbook(playbook: str, inventory: Path, *args: str, echo: Callable[[str], bool] | None = None,
                 env: dict | None = None) -> tuple[int, str, float]:
    """Run ansible-playbook; `echo(line)` sees every line as it comes. Returns (rc, output, seconds)."""
    full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_FORCE_COLOR="0",
                    ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", **(env or {}))
    start = time.monotonic()
    proc = subprocess.Popen([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(PLAYBOOKS / playbook), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=REPO)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if echo:
            echo(line)
    rc = proc.wait()
    return rc, "".join(lines), round(time.monotonic() - start, 1)


def task_name(line: str) -> str | None:
    """`TASK [role : name] ****` -> `name`; None for any other line."""
    found = re.match(r"^TASK \[(?:[^:\]]*: )?(.*)\] \**$", line.rstrip())
    return found.group(1) if found else None


def recap(output: str) -> dict[str, dict[str, int]]:
    out = {}
    for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


def pods(cp: K8sControlPlane, namespace: str, name: str = "pinot") -> list[dict]:
    sel = f"app.kubernetes.io/instance={name}"
    return cp.request("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={sel}")["items"]


def ensure_namespace(cp: K8sControlPlane, name: str) -> None:
    try:
        cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ControlPlaneError as exc:
        if "409" not in str(exc):
            raise


def host_vars(directory: Path, host: str) -> dict:
    """The host variables of an inventory written by the test bed."""
    return yaml.safe_load((directory / "host_vars" / f"{host}.yml").read_text())


def write_host_vars(directory: Path, host: str, values: dict) -> None:
    (directory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values, sort_keys=False))


def set_host_vars(directory: Path, host: str, **values: object) -> None:
    """Change top-level host variables of an inventory written by the test bed."""
    write_host_vars(directory, host, {**host_vars(directory, host), **values})


def set_image(directory: Path, host: str, image: str) -> None:
    cluster = copy.deepcopy(host_vars(directory, host)["pinot_cluster"])
    cluster["image"] = image
    set_host_vars(directory, host, pinot_cluster=cluster)


def deletion_asked(metadata: dict) -> str:
    """When a pod's deletion was asked. Kubernetes sets deletionTimestamp to that moment plus the grace period
    (the deadline for the pod to be gone), so a pod that stops sooner looks as if it was created before it went."""
    deadline = datetime.fromisoformat(metadata["deletionTimestamp"].replace("Z", "+00:00"))
    asked = deadline - timedelta(seconds=metadata.get("deletionGracePeriodSeconds") or 0)
    return asked.isoformat().replace("+00:00", "Z")


MIN_POLLS = 4  # fewer successful polls than this: a history of a few snapshots proves nothing


class PodHistory:
    """Every uid each pod name had while the `with` block ran (polled every 0.25 s: kwok and the real node both take
    longer than that to replace a pod). A pod replaced once shows two uids; replaced twice, three."""

    def __init__(self, list_pods: Callable[[], dict]) -> None:
        self.list_pods = list_pods
        self.polls = 0  # successful ones
        self.uids: dict[str, list[str]] = {}
        self.deleted_at: dict[str, str] = {}  # uid -> when that pod's deletion was asked (ISO 8601)
        self.first_seen: dict[str, str] = {}  # uid -> "created <time>, revision <hash>, <image>" (for messages)
        self._record()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PodHistory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._record()

    def _poll(self) -> None:
        while not self._stop.wait(0.25):
            with contextlib.suppress(Exception):  # the apiserver may be down on purpose
                self._record()
                self.polls += 1

    def _record(self) -> None:
        for name, pod in self.list_pods().items():
            seen = self.uids.setdefault(name, [])
            if pod["metadata"]["uid"] not in seen:
                seen.append(pod["metadata"]["uid"])
                self.first_seen[pod["metadata"]["uid"]] = (
                    f"created {pod['metadata'].get('creationTimestamp')}, revision "
                    f"{(pod['metadata'].get('labels') or {}).get('controller-revision-hash')}, "
                    f"{pod['spec']['containers'][0]['image']}")
            if pod["metadata"].get("deletionTimestamp"):
                self.deleted_at.setdefault(pod["metadata"]["uid"], deletion_asked(pod["metadata"]))

    def replacements(self) -> dict[str, int]:
        _enough_polls(self.polls, "PodHistory")
        return {name: len(uids) - 1 for name, uids in self.uids.items()}

    def story(self, name: str) -> list[str]:
        """Each pod that had the name, in order: what a failed replacement count needs to be understood."""
        return [f"{uid}: {self.first_seen.get(uid)}, deletion asked {self.deleted_at.get(uid)}"
                for uid in self.uids.get(name, [])]


class RestartClock:
    """The pods' own restart-to-ready time while the `with` block runs, the floor of a rolling upgrade: per pod
    name, from the first poll that finds its pod going (terminating or gone) to the first that finds its
    successor Ready. Polled every 0.2 s; both ends are seen as late, so the difference holds to about 0.2 s."""

    def __init__(self, list_pods: Callable[[], dict], interval: float = 0.2) -> None:
        self.list_pods, self.interval = list_pods, interval
        self.first_uid = {name: pod["metadata"]["uid"] for name, pod in list_pods().items()}
        self.going: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self.polls = 0  # successful ones
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> RestartClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # the apiserver may be down on purpose
                pods, now = self.list_pods(), time.monotonic()
                for name, uid in self.first_uid.items():
                    pod = pods.get(name)
                    if pod is None or pod["metadata"]["uid"] != uid or pod["metadata"].get("deletionTimestamp"):
                        self.going.setdefault(name, now)
                    if pod is not None and pod["metadata"]["uid"] != uid and _ready(pod):
                        self.ready.setdefault(name, now)
                self.polls += 1

    def seconds(self) -> dict[str, float]:
        """{pod name: restart-to-ready seconds} of the pods that were replaced and are Ready again."""
        _enough_polls(self.polls, "RestartClock")
        return {name: round(self.ready[name] - self.going[name], 2) for name in self.ready if name in self.going}


def _enough_polls(polls: int, what: str) -> None:
    if polls < MIN_POLLS:
        raise AssertionError(f"{what} polled the pods successfully {polls} time(s), fewer than {MIN_POLLS}: it saw "
                             "too little to tell how often a pod was replaced")


def _ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))
