"""Reuse of results read from the KPI jobs' tables until those tables change.

The KPI, SLA and exception pages read small rollups (``kpi_daily``, ``order_facts``, ``sla_results``,
``order_exceptions``) that change only when the KPI jobs or an exception action write them, yet each
read costs the engine 30-120 ms of query analysis. A result computed from those tables alone (no
"now" in it) is kept with the tables' fingerprint (``queries/kpi_tables_version.sql``: their active
parts and each part's checksum) and reused while the fingerprint is unchanged, which one cheap read
of the engine's part list tells. Correct across processes and replicas' writes alike: whoever writes,
the parts change. Bounded: the least recently used results are dropped beyond ``max_entries``.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from storage import SqlFiles, Store
from storage.migrate import LOCAL_SUFFIX

log = logging.getLogger(__name__)
SQL = SqlFiles("web.queries")
T = TypeVar("T")

# The tables the cached results are read from (and their cluster-local data tables): the KPI jobs'
# results, and the dashboard's users (the exception queue's owner choices).
KPI_TABLES = ("kpi_daily", "order_facts", "sla_results", "order_exceptions", "exception_actions", "web_users")
_TABLES = [*KPI_TABLES, *(t + LOCAL_SUFFIX for t in KPI_TABLES)]


class _Seen:
    """Fingerprints read during one request, by store (threads of one request share it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.versions: dict[int, int | None] = {}


# Set per GET request by RequestScope; web.views.in_parallel's threads run in copies of the
# request's context, so a page asks the engine once however many cached results it uses.
_SEEN: contextvars.ContextVar[_Seen | None] = contextvars.ContextVar("kpi_tables_seen", default=None)


def _read_version(store: Store) -> int | None:
    try:
        return int(store.scalar(SQL["kpi_tables_version"], {"tables": _TABLES}) or 0)
    except Exception as exc:  # e.g. a server user without access to system.parts: read, never reuse
        log.warning("KPI results are not reused (cannot read the tables' parts: %s)", exc)
        return None


def tables_version(store: Store) -> int | None:
    """The KPI tables' fingerprint (changes whenever their content may have); read once per request.
    None when it cannot be read: results are then computed every time."""
    seen = _SEEN.get()
    if seen is None:
        return _read_version(store)
    with seen.lock:  # the request's other threads wait for the one read instead of repeating it
        if id(store) not in seen.versions:
            seen.versions[id(store)] = _read_version(store)
        return seen.versions[id(store)]


class RequestScope:
    """ASGI middleware: each GET request reads the KPI tables' fingerprint at most once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            # a request that writes (an exception action) reads the fingerprint after its write
            await self.app(scope, receive, send)
            return
        token = _SEEN.set(_Seen())
        try:
            await self.app(scope, receive, send)
        finally:
            _SEEN.reset(token)


class KpiCache:
    """Results keyed by (store, what was asked), valid while the KPI tables' fingerprint holds."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, Any, tuple[object, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: Store, key: Hashable, compute: Callable[[], T], *pinned: object) -> T:
        """``compute()``'s result for ``key``, computed again when the KPI tables changed.

        ``pinned`` objects (the store, the policy) are kept with the entry and must be the very same
        objects for a hit: a key names them by ``id``, which stays theirs while the entry holds them.
        """
        version = tables_version(store)
        if version is None:
            return compute()
        full = (store.dsn, store.database, id(store), *(id(p) for p in pinned), key)
        with self._lock:
            entry = self._entries.get(full)
            if (
                entry is not None
                and entry[0] == version
                and all(a is b for a, b in zip(entry[2], (store, *pinned), strict=True))
            ):
                self._entries.move_to_end(full)
                return entry[1]
        value = compute()
        with self._lock:
            self._entries[full] = (version, value, (store, *pinned))
            self._entries.move_to_end(full)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = KpiCache()
