"""pytest plugin: real Apache Pinot clusters (see pinot.py).

* `pinot_version`: session-scoped, one param per entry of PINOTOPS_PINOT_VERSIONS. The first entry is the
  primary version: every Pinot test runs on it; on the others only tests marked `every_version` (the
  upgrade-relevant subset) run, the rest are deselected.
* `pinot`: the session's shared cluster of that version (2 servers, minion, Kafka). pytest
  orders tests by the session param, so one version's cluster is stopped before the next starts.
* `pinot_kafka`: the Kafka-enabled cluster; the shared one, since Kafka costs one small JVM.
* `fresh_pinot`: factory for a test's own cluster (auth on, fewer servers ...), stopped after the test.

PINOTOPS_TESTBED_STATE=<state.json of `make testbed-up`> reuses that cluster and leaves it running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.pinot import (
    DEFAULT_VERSIONS,
    ClusterError,
    PinotCluster,
    PinotUnavailable,
    running_pids,
    stop_from_state,
)

VERSIONS_ENV = "PINOTOPS_PINOT_VERSIONS"
STATE_ENV = "PINOTOPS_TESTBED_STATE"

_started: list[Path] = []


def _versions() -> list[str]:
    state = os.environ.get(STATE_ENV)
    if state:
        return [json.loads(Path(state).read_text())["version"]]
    return os.environ.get(VERSIONS_ENV, DEFAULT_VERSIONS).replace(",", " ").split()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "every_version: runs on every Pinot version of the matrix, not the primary only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    primary = _versions()[0]
    keep, drop = [], []
    for item in items:
        version = getattr(item, "callspec", None) and item.callspec.params.get("pinot_version")
        if version and version != primary and item.get_closest_marker("every_version") is None:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _start(cluster: PinotCluster) -> PinotCluster:
    _started.append(cluster.workdir)
    try:
        return cluster.start()
    except (PinotUnavailable, ClusterError) as exc:
        # A test bed that cannot be assembled is a failure, never a skip.
        pytest.fail(f"Pinot {cluster.version} test bed: {exc}", pytrace=False)


@pytest.fixture(scope="session", params=_versions())
def pinot_version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def pinot(pinot_version: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PinotCluster]:
    state = os.environ.get(STATE_ENV)
    if state:
        cluster = PinotCluster.from_state(state)
        missing = [n for n in cluster.components if not cluster.is_running(n)]
        if missing:
            pytest.fail(f"{STATE_ENV}={state}: not running: {', '.join(missing)}", pytrace=False)
        yield cluster
        return
    cluster = _start(PinotCluster(pinot_version, tmp_path_factory.mktemp(f"pinot-{pinot_version}-"), kafka=True))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pinot_kafka(pinot: PinotCluster) -> PinotCluster:
    if pinot.kafka_bootstrap is None:
        pytest.fail(f"the cluster in {STATE_ENV} runs no Kafka broker", pytrace=False)
    return pinot


@pytest.fixture
def fresh_pinot(pinot_version: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., PinotCluster]]:
    """Call with PinotCluster keyword arguments (servers=, minion=, kafka=, auth=); stopped after the test."""
    clusters: list[PinotCluster] = []

    def make(**kwargs: Any) -> PinotCluster:
        cluster = PinotCluster(pinot_version, tmp_path_factory.mktemp(f"pinot-{pinot_version}-fresh-"), **kwargs)
        clusters.append(cluster)
        return _start(cluster)

    try:
        yield make
    finally:
        for cluster in clusters:
            cluster.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every JVM a fixture started must be gone; kill leftovers and fail the run if there were any."""
    leftovers = {str(w): running_pids(w) for w in _started}
    leftovers = {w: pids for w, pids in leftovers.items() if pids}
    for workdir in leftovers:
        stop_from_state(workdir)
    if leftovers:
        message = f"Pinot test bed JVMs left running (now killed): {leftovers}"
        session.config.get_terminal_writer().line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
