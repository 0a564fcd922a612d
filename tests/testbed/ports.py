"""Loopback ports for test-bed daemons.

Ports are picked below the kernel's ephemeral range: a port from bind(0) is
ephemeral, so between planning it and the daemon binding it an outgoing
connection (ZooKeeper, Helix, HTTP clients) can take it, and two bind(0) calls
made one after the other may even return the same port.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOW = 20000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(names: list[str], host: str = "127.0.0.1") -> dict[str, int]:
    """One distinct, currently free port on `host` per name, outside the ephemeral range."""
    high = _ephemeral_low()
    candidates = random.sample(range(LOW, high), min(high - LOW, 64 * len(names) + 64))
    held: dict[str, socket.socket] = {}
    try:
        for port in candidates:
            if len(held) == len(names):
                break
            s = socket.socket()
            try:
                s.bind((host, port))
            except OSError:
                s.close()
                continue
            held[names[len(held)]] = s
        if len(held) < len(names):
            raise OSError(f"no {len(names)} free ports on {host} in {LOW}-{high - 1}")
        return {name: s.getsockname()[1] for name, s in held.items()}
    finally:
        for s in held.values():
            s.close()


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(["port"], host)["port"]
