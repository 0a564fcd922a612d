"""Fixtures for the whole suite: the real test bed (Pinot JVMs, Kubernetes control plane)."""

import pytest

pytest_plugins = [
    "tests.testbed.pytest_pinot",
    "tests.testbed.pytest_k8s",
]


def pytest_collection_modifyitems(items):
    """Two groups for `pytest -n 2 --dist loadgroup` (make test-integration): the real-node modules, which bring their
    own control plane and node, run beside the modules on the shared test bed; each group keeps its file order."""
    for item in items:
        group = "real-node" if item.path.name.startswith("test_real_node") else "shared-testbed"
        item.add_marker(pytest.mark.xdist_group(group))
