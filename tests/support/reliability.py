"""The auth-enabled Pinot shared by the reliability and secrets tests: started once per pytest session (CPU is
scarce), stopped when the session ends. Test modules define `pinot_auth = reliability_fixture()`."""

from __future__ import annotations

import secrets

import pytest

from tests.testbed.pinot import PinotCluster

USER = "admin"
PASSWORD = "pw-" + secrets.token_hex(8)
AUTH = {"username": USER, "password": PASSWORD}
_shared: dict[str, PinotCluster] = {}


def shared_auth_pinot(request: pytest.FixtureRequest, version: str, tmp_path_factory) -> PinotCluster:
    """1 server, no minion, no Kafka, basic auth on (controller.admin.access.control.* with AUTH)."""
    if version not in _shared:
        cluster = PinotCluster(version, tmp_path_factory.mktemp("pinot-auth-"), servers=1, minion=False, auth=AUTH)
        request.session.config.add_cleanup(cluster.stop)
        _shared[version] = cluster
        try:
            cluster.start()
        except Exception as exc:  # a test bed that cannot be assembled is a failure, never a skip
            pytest.fail(f"auth-enabled Pinot {version}: {exc}", pytrace=False)
    return _shared[version]


def reliability_fixture():
    @pytest.fixture(scope="module")
    def pinot_auth(request, pinot_version, tmp_path_factory):
        return shared_auth_pinot(request, pinot_version, tmp_path_factory)

    return pinot_auth
