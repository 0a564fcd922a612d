"""pytest plugin: the session's real Kubernetes control plane (see k8s.py).

If PINOTOPS_TESTBED_KUBECONFIG points at the kubeconfig of a control plane
started by `make testbed-up` (`python tests/testbed/k8s.py up`), that one is
reused and left running; otherwise one is started for the session and
stopped at its end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.testbed.k8s import BinariesError, K8sControlPlane
from tests.testbed.real_cluster import control_plane_with_node
from tests.testbed.real_node import ZONES, RealNode, control_plane_with_zone_nodes

KUBECONFIG_ENV = "PINOTOPS_TESTBED_KUBECONFIG"


@contextlib.contextmanager
def binaries_required() -> Iterator[None]:
    """A test bed that can't be built is a failure, never a skip."""
    try:
        yield
    except BinariesError as exc:
        pytest.fail(f"cannot build the Kubernetes test bed binaries: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def k8s_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[K8sControlPlane]:
    external = os.environ.get(KUBECONFIG_ENV)
    if external:
        # k8s.py writes kubeconfig and state.json side by side in its workdir.
        yield K8sControlPlane.attach(Path(external).parent)
        return
    cp = K8sControlPlane(tmp_path_factory.mktemp("k8s"))
    with binaries_required():
        cp.start()
    try:
        yield cp
    finally:
        cp.stop()


@contextlib.contextmanager
def real_node_bed(base: Path) -> Iterator[tuple[K8sControlPlane, RealNode]]:
    """A control plane of its own with the real node (tests/testbed/real_node.py); both stopped on exit."""
    with binaries_required(), control_plane_with_node(base) as bed:
        yield bed


@contextlib.contextmanager
def zone_nodes_bed(base: Path, zones: Sequence[str] = ZONES) -> Iterator[tuple[K8sControlPlane, RealNode]]:
    """A control plane of its own with a real node per zone (real_node.control_plane_with_zone_nodes)."""
    with binaries_required(), control_plane_with_zone_nodes(base, zones) as bed:
        yield bed
