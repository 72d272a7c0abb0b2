"""The one way into ClickHouse: a ``Store`` over clickhouse-connect, embedded (chdb) or a server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from clickhouse_connect.driver.query import QueryResult

from storage import lock
from storage.errors import TowerError
from storage.settings import StorageSettings, check_identifier
from storage.sql import SqlFiles

SQL = SqlFiles("storage.queries")


class StoreError(TowerError, RuntimeError):
    """The store could not be opened or used; the message says what to do."""


class StoreLockedError(StoreError):
    """The embedded data directory is held by another process."""

    def __init__(self, error: lock.DataDirLocked) -> None:
        super().__init__(str(error))
        self.path = error.path
        self.holder = error.holder

    @property
    def api_url(self) -> str | None:
        url = self.holder.get("api_url")
        return url if isinstance(url, str) else None


class Store:
    """ClickHouse access bound to one database.

    Queries use the database as the session default, so ``.sql`` files name tables without a
    database; DDL uses :meth:`ident`. Each thread gets its own clickhouse-connect client (chdb
    clients on the same path share one engine).
    """

    def __init__(self, settings: StorageSettings, database: str | None = None) -> None:
        self.settings = settings
        self.database = check_identifier(database or settings.database, "database")
        self.cluster = settings.cluster
        self.dsn = settings.effective_dsn()
        self.embedded = self.dsn.startswith("chdb:")
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_guard = threading.Lock()
        self._closed = False
        self._data_dir: Path | None = _chdb_path(self.dsn) if self.embedded else None
        if self.embedded:
            _pin_utc()
            _engine_allocator()
        self._owns_lock = False
        self._known_settings: dict[str, bool] = {}

    # -- connection ---------------------------------------------------------------------------

    def _new_client(self, database: str | None) -> Client:
        settings: dict[str, Any] = {"session_timezone": "UTC"}
        if self.settings.layout == "sharded":
            # a subquery or join on another Distributed table runs once, on the initiator, and its
            # result goes to every shard (GLOBAL IN / GLOBAL JOIN): correct wherever the rows live,
            # where the default refuses the query (Code 288, "double-distributed IN/JOIN")
            settings["distributed_product_mode"] = "global"
        kwargs: dict[str, Any] = {"dsn": self.dsn, "settings": settings}
        if self.embedded and "?" in self.dsn:
            # chdb:///dir?config-file=/x.xml: engine options (a server config, as the two-shard test
            # harness uses) go to chdb itself, not to clickhouse-connect
            base, _, query = self.dsn.partition("?")
            kwargs["dsn"] = base
            kwargs["chdb_options"] = dict(parse_qsl(query))
        if database:
            kwargs["database"] = database
        if not self.embedded:
            kwargs.update(
                connect_timeout=self.settings.connect_timeout_s,
                send_receive_timeout=self.settings.query_timeout_s,
                autogenerate_session_id=False,
            )
        try:
            return clickhouse_connect.get_client(**kwargs)
        except ClickHouseError as exc:
            where = self._data_dir if self.embedded else _redact(self.dsn)
            raise StoreError(f"cannot open the ClickHouse store at {where}: {exc}") from exc

    @property
    def data_path(self) -> Path | None:
        """The embedded engine's data directory (None for a server)."""
        return self._data_dir

    @property
    def client(self) -> Client:
        """This thread's client, with the store's database as default."""
        if self._closed:
            raise StoreError("the store is closed")
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client(self.database)
            self._local.client = client
            with self._clients_guard:
                self._clients.append(client)
        return client

    def admin_client(self) -> Client:
        """A client without a default database (for CREATE/DROP DATABASE)."""
        client = getattr(self._local, "admin", None)
        if client is None:
            client = self._new_client(None)
            self._local.admin = client
            with self._clients_guard:
                self._clients.append(client)
        return client

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._clients_guard:
            for client in self._clients:
                with suppress(Exception):  # closing is best effort
                    client.close()
            self._clients.clear()
        if self._owns_lock and self._data_dir is not None:
            lock.release(self._data_dir)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ------------------------------------------------------------------------------

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> QueryResult:
        return self.client.query(sql, parameters=parameters, settings=settings)

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Result rows as dicts keyed by column name."""
        result = self.query(sql, parameters)
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        result = self.query(sql, parameters).result_rows
        return result[0][0] if result else None

    def now(self) -> datetime:
        """The store's clock, in UTC (insert times are the store's, not this process's)."""
        value = self.scalar(SQL["now"])
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def knows_setting(self, name: str) -> bool:
        """Whether the engine has the setting ``name`` (asked once per store: a feature newer than
        the server, such as ``enable_materialized_cte`` before ClickHouse 26.3, is not there)."""
        known = self._known_settings.get(name)
        if known is None:
            found = {row[0] for row in self.query(SQL["known_settings"], {"names": [name]}).result_rows}
            known = self._known_settings[name] = name in found
        return known

    def command(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any:
        return self.client.command(sql, parameters=parameters, settings=settings)

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        *,
        column_oriented: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> int:
        """Insert rows (or columns with ``column_oriented``); returns the number of rows written."""
        check_identifier(table, "table")
        summary = self.client.insert(
            table,
            data,
            column_names=list(column_names),
            column_oriented=column_oriented,
            settings=settings,
        )
        return int(summary.written_rows)

    def acknowledged_insert_settings(self) -> dict[str, Any]:
        """Settings for an insert after which its rows count as stored (the collector then deletes
        its spool segment). On one server the insert itself is enough. On a cluster an insert into a
        Distributed table waits until the shard's table holds the rows instead of leaving them queued
        on the node that received them (``distributed_foreground_insert``), and until a majority of
        the shard's replicas have them (``insert_quorum``; when too few replicas answer within a
        minute the insert fails and the segment stays spooled for the next attempt, whose
        deduplication token makes a partly written block count once)."""
        if not self.cluster:
            return {}
        return {"distributed_foreground_insert": 1, "insert_quorum": "auto", "insert_quorum_timeout": 60_000}

    # -- identifiers --------------------------------------------------------------------------

    def ident(self, table: str) -> str:
        """Fully qualified, quoted name of a table in this store's database."""
        return f"`{self.database}`.`{check_identifier(table, 'table')}`"

    def drop_database(self) -> None:
        on_cluster = f" ON CLUSTER `{self.cluster}`" if self.cluster else ""
        self.admin_client().command(f"DROP DATABASE IF EXISTS `{self.database}`{on_cluster} SYNC")


def open_store(settings: StorageSettings, *, database: str | None = None, command: str = "tower") -> Store:
    """Open the store; for the embedded engine, take the data directory's process lock first.

    Raises :class:`StoreLockedError` with a clear message when another process holds it.
    """
    dsn = settings.effective_dsn()
    if dsn.startswith("chdb:"):
        path = _chdb_path(dsn)
        try:
            lock.acquire(path, command)
        except lock.DataDirLocked as exc:
            raise StoreLockedError(exc) from None
    store = Store(settings, database)
    store._owns_lock = dsn.startswith("chdb:")
    try:
        store.admin_client().command("SELECT 1")
    except Exception:
        store.close()
        raise
    return store


def _pin_utc() -> None:
    """The embedded engine takes the process time zone as the server's: the tower keeps UTC.

    Datetimes then round-trip as naive UTC on every engine, whatever TZ the host has.
    """
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


# The embedded engine's allocator (jemalloc) keeps freed pages for 5 s before handing them back (its
# compiled-in dirty_decay_ms:5000): under sustained ingest the pages one insert or merge freed were
# still counted while the next grew the process. 1 s on 4 inserts of 50k spans, alternated on a quiet
# machine: peak RSS 796-798 -> 711-732 MiB, CPU within the noise (56-64 vs 60-66 us/span); 0 s:
# 652-658 MiB but +30-50% CPU; a purge after every insert on top saved little more and cost CPU.
ENGINE_ALLOCATOR_CONF = "dirty_decay_ms:1000"


def _engine_allocator() -> None:
    """Set the embedded engine's allocator options before the engine loads (read once, at its
    start); a ``JE_MALLOC_CONF`` already in the environment wins."""
    os.environ.setdefault("JE_MALLOC_CONF", ENGINE_ALLOCATOR_CONF)


def _chdb_path(dsn: str) -> Path:
    parsed = urlparse(dsn)
    raw = parsed.path if not parsed.netloc else parsed.netloc + parsed.path
    if raw in ("", "memory", ":memory:"):
        raise StoreError("the embedded store needs a directory: chdb:///absolute/path")
    return Path(raw).resolve()


def _redact(dsn: str) -> str:
    parsed = urlparse(dsn)
    if parsed.password:
        return dsn.replace(f":{parsed.password}@", ":***@")
    return dsn
