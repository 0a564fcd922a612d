"""Fixtures for the whole suite: the real test bed (Pinot JVMs, Kubernetes control plane)."""

pytest_plugins = [
    "tests.testbed.pytest_pinot",
    "tests.testbed.pytest_k8s",
]
