"""A slowloris client for tests: many sockets that trickle a request and never finish it."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Trickle:
    """``count`` sockets to ``host:port`` sending ``head`` then one byte of ``drip`` every ``every_s``.

    ``closed_after`` holds, per socket closed by the server, the seconds from its connect to the
    close (EOF or reset); sockets still open are not in it.
    """

    host: str
    port: int
    count: int = 400
    head: bytes = b"POST /v1/traces HTTP/1.1\r\nHost: tower\r\n"
    drip: bytes = b"X-Slow: " + b"a" * 4096
    every_s: float = 0.5
    sockets: list[socket.socket] = field(default_factory=list)
    opened_at: dict[int, float] = field(default_factory=dict)
    closed_after: dict[int, float] = field(default_factory=dict)
    replies: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Trickle:
        for _ in range(self.count):
            sock = socket.create_connection((self.host, self.port), timeout=5)
            sock.setblocking(False)
            self.opened_at[sock.fileno()] = time.monotonic()
            with contextlib.suppress(OSError):
                sock.send(self.head)
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _close(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd in self.opened_at and fd not in self.closed_after:
            self.closed_after[fd] = time.monotonic() - self.opened_at[fd]

    def _run(self) -> None:
        position = 0
        next_drip = time.monotonic() + self.every_s
        while not self._stop.is_set() and len(self.closed_after) < len(self.sockets):
            live = [s for s in self.sockets if s.fileno() not in self.closed_after]
            # poll/epoll, not select(): a test process holds many descriptors, and select() refuses
            # any numbered 1024 or more
            with selectors.DefaultSelector() as selector:
                for sock in live:
                    selector.register(sock, selectors.EVENT_READ)
                readable = [key.fileobj for key, _ in selector.select(0.05)]
            for sock in readable:
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data:
                    self.replies[sock.fileno()] = self.replies.get(sock.fileno(), b"") + data
                else:
                    self._close(sock)
            if time.monotonic() >= next_drip:
                byte = self.drip[position % len(self.drip) : position % len(self.drip) + 1]
                position += 1
                for sock in live:
                    try:
                        sock.send(byte)
                    except OSError:
                        self._close(sock)
                next_drip = time.monotonic() + self.every_s

    def wait_all_closed(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.closed_after) == len(self.sockets):
                return True
            time.sleep(0.05)
        return len(self.closed_after) == len(self.sockets)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()
