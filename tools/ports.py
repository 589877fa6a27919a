"""TCP ports on 127.0.0.1 for the servers the tests, tools and benchmarks start (the one copy of
``free_port``). Standard library only."""

from __future__ import annotations

import socket

#: Every server the harnesses start binds here only (never 0.0.0.0).
HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port free on ``host`` right now (the usual bind-to-0 race applies: whoever binds it
    next wins). Also "a port nobody listens on", for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
