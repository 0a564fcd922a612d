"""Running the collection's playbooks against the test bed, and reading what they did (tests and `make demo`)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
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


def set_host_vars(directory: Path, host: str, **values: object) -> None:
    """Change top-level host variables of an inventory written by the test bed."""
    path = directory / "host_vars" / f"{host}.yml"
    hv = yaml.safe_load(path.read_text())
    hv.update(values)
    path.write_text(yaml.safe_dump(hv, sort_keys=False))


def set_image(directory: Path, host: str, image: str) -> None:
    hv = yaml.safe_load((directory / "host_vars" / f"{host}.yml").read_text())
    cluster = copy.deepcopy(hv["pinot_cluster"])
    cluster["image"] = image
    set_host_vars(directory, host, pinot_cluster=cluster)
