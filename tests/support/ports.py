"""Ports a test owns, so no other process can take them between "found free" and "used".

A server under test binds port 0 itself and the test reads the port back; where a test needs a port
that refuses connections, it holds one bound but not listening (the kernel answers a connection
attempt with a reset) instead of assuming that some well-known port such as 9 is closed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port on ``host`` (not listening); the caller closes it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


@contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on ``host`` that refuses every connection for as long as the block runs."""
    with bound_socket(host) as sock:
        yield int(sock.getsockname()[1])


@contextmanager
def listening_socket(host: str = "127.0.0.1") -> Iterator[socket.socket]:
    """A listening socket on a free port, to hand to a server (``sockets=[...]``) or to occupy a port."""
    with bound_socket(host) as sock:
        sock.listen()
        yield sock
