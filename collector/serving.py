"""uvicorn with protection against slow clients, for every HTTP port the tower listens on.

uvicorn has a keep-alive timeout and ``limit_concurrency`` (which answers 503 once headers are in,
so it does nothing against clients that never finish them), but no header or body read timeout
and no cap on open connections: 400 sockets trickling one header byte at a time stay open
forever. :func:`guarded_protocol` returns a subclass of uvicorn's httptools protocol that adds:

- **header timeout**: the request head (request line and headers) must arrive within
  ``header_timeout_s`` of the connection opening, or of the first byte of the next request on a
  keep-alive connection; else ``408`` and the connection is closed;
- **header size**: at most ``max_header_bytes`` before the head is complete; else ``431``;
- **body timeout**: the whole body must arrive within ``body_timeout_s`` of the head; else
  ``408`` (the application sees a disconnect and stores nothing) and the connection is closed;
- **keep-alive timeout**: uvicorn's own, ``keep_alive_timeout_s`` between requests;
- **connection cap**: at most ``max_connections`` open connections. When a new one would exceed
  it, the connection that has been idle or sending its head the longest is closed to make room
  (stalled clients lose to fresh ones); when every connection is busy with a request, the new one
  is closed at once.

Counts of each kind of close are kept in :class:`GuardStats` (shared per protocol class).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True)
class ServerLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_timeout_s: int = 5
    max_connections: int = 1000
    max_header_bytes: int = 64 * 1024


@dataclass
class GuardStats:
    header_timeouts: int = 0
    body_timeouts: int = 0
    headers_too_large: int = 0
    evicted: int = 0
    refused: int = 0

    def count(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body timeouts and a connection cap."""

    limits = ServerLimits()
    stats = GuardStats()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind = ""
        self._head_bytes = 0
        self._in_head = False
        self._last_activity = time.monotonic()

    # -- timers ------------------------------------------------------------------------------------

    def _arm(self, kind: str, seconds: float) -> None:
        self._disarm()
        self._timer_kind = kind
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_kind = ""

    def _expired(self) -> None:
        kind, self._timer = self._timer_kind, None
        if self.transport is None or self.transport.is_closing():
            return
        if kind == "header":
            self.stats.count("header_timeouts")
            if self._head_bytes:
                self.transport.write(_408)
        elif kind == "body":
            self.stats.count("body_timeouts")
            cycle = self.cycle
            if cycle is not None and not cycle.response_started:
                cycle.disconnected = True  # the application gets http.disconnect; its reply is dropped
                cycle.message_event.set()
                self.transport.write(_408)
        self.transport.close()

    # -- protocol hooks ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True
        self._arm("header", self.limits.header_timeout_s)
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_activity = time.monotonic()
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._in_head
            and self._head_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self.stats.count("headers_too_large")
            self.transport.write(_431)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # the next request on a keep-alive connection
            self._in_head = True
            self._head_bytes = 0
            self._arm("header", self.limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm("body", self.limits.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._timer_kind == "body":
            self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._last_activity = time.monotonic()
        super().on_response_complete()

    # -- the connection cap ----------------------------------------------------------------------

    def _busy(self) -> bool:
        """A request is being read or answered (not idle, not still sending its head)."""
        return self.cycle is not None and not self.cycle.response_complete and not self._in_head

    def _make_room(self) -> None:
        candidates = [
            c
            for c in self.connections
            if c is not self and isinstance(c, GuardedHttpToolsProtocol) and not c._busy()
        ]
        if not candidates:
            self.stats.count("refused")
            self.transport.close()
            return
        victim = min(candidates, key=lambda c: c._last_activity)
        self.stats.count("evicted")
        if victim.transport is not None and not victim.transport.is_closing():
            victim.transport.close()
        self.connections.discard(victim)


def guarded_protocol(limits: ServerLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` enforcing ``limits`` (with its own stats)."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "stats": GuardStats()},
    )


def uvicorn_options(limits: ServerLimits) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that apply ``limits``."""
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }
