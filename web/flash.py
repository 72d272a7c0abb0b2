"""One-time messages that survive a POST-redirect-GET: kept on the server, keyed by the session.

After a form is handled the handler stores what the next page must show once (a new API token's
secret, a reset password's confirmation) and redirects; the page that follows pops it. Nothing goes
into the URL or a cookie, a refresh shows the page without the message, and nothing is submitted
twice. Messages live in this process's memory for ``ttl_s`` (tower serve runs one web process).
"""

from __future__ import annotations

import threading
import time
from typing import Any

MAX_PER_SESSION = 20
MAX_SESSIONS = 10_000


class Flashes:
    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._items: dict[str, list[tuple[float, str, Any]]] = {}

    def put(self, session_key: str, kind: str, value: Any) -> None:
        """Keep ``value`` for the next page of ``session_key`` that asks for ``kind``."""
        now = time.monotonic()
        with self._lock:
            if len(self._items) >= MAX_SESSIONS:
                self._expire(now)
            items = self._items.setdefault(session_key, [])
            items.append((now, kind, value))
            del items[:-MAX_PER_SESSION]

    def pop(self, session_key: str, kind: str) -> list[Any]:
        """Every live ``kind`` message of ``session_key``, removed as it is handed out."""
        now = time.monotonic()
        with self._lock:
            items = self._items.get(session_key, [])
            found = [v for at, k, v in items if k == kind and now - at < self.ttl_s]
            rest = [(at, k, v) for at, k, v in items if k != kind and now - at < self.ttl_s]
            if rest:
                self._items[session_key] = rest
            else:
                self._items.pop(session_key, None)
        return found

    def _expire(self, now: float) -> None:
        for key in list(self._items):
            live = [item for item in self._items[key] if now - item[0] < self.ttl_s]
            if live:
                self._items[key] = live
            else:
                del self._items[key]
