import socket

import pytest

from tests.testbed import ports


def test_ports_are_distinct_and_below_the_ephemeral_range():
    picked = ports.free_ports([f"p{i}" for i in range(40)])
    assert len(set(picked.values())) == 40
    assert all(ports.LOW <= p < ports._ephemeral_low() for p in picked.values())


def test_a_port_in_use_is_never_picked(monkeypatch):
    busy = socket.socket()
    busy.bind(("127.0.0.1", ports.LOW))
    busy.listen()
    try:
        monkeypatch.setattr(ports, "_ephemeral_low", lambda: ports.LOW + 3)
        picked = ports.free_ports(["a", "b"])
        assert sorted(picked.values()) == [ports.LOW + 1, ports.LOW + 2]
        with pytest.raises(OSError, match="no 3 free ports"):
            ports.free_ports(["a", "b", "c"])
    finally:
        busy.close()
