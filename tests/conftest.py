"""Test harness: the real ClickHouse engine (embedded chdb), one database per test.

chdb opens one data path per process, so a pytest process shares one temporary data path and
isolates tests by database name. Set ``TOWER_TEST_CLICKHOUSE_URL`` (http://user:pass@host:8123)
to run the same tests against a ClickHouse server, and ``TOWER_TEST_CLICKHOUSE_CLUSTER`` as well for a
cluster (``deploy/compose/cluster-tests.sh`` does both).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storage import StorageSettings, Store, open_store
from storage.migrate import migrate
from storage.settings import DEFAULT_TTL_DAYS
from tracing.conventions import KEY_ROLES

SERVER_URL_ENV = "TOWER_TEST_CLICKHOUSE_URL"
# with the URL: the cluster the server belongs to (deploy/compose/cluster-tests.sh sets both)
SERVER_CLUSTER_ENV = "TOWER_TEST_CLICKHOUSE_CLUSTER"
KEEP_DATA_ENV = "TOWER_TEST_KEEP_DATA"
# TOWER_TEST_TMPFS=0 keeps temporary files (the test stores) where TMPDIR says
TMPFS_ENV = "TOWER_TEST_TMPFS"
TMPFS = Path("/dev/shm")
TMPFS_MIN_FREE = 4 << 30


def _roomy_tmpfs() -> Path | None:
    """``/dev/shm`` when it is a writable tmpfs with room for the test stores (not a container's
    64 MiB default), else None."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
        stat = os.statvfs(TMPFS)
    except OSError:
        return None
    tmpfs = any(line.split()[1:3] == [str(TMPFS), "tmpfs"] for line in mounts if len(line.split()) > 2)
    if not tmpfs or not os.access(TMPFS, os.W_OK) or stat.f_bavail * stat.f_frsize < TMPFS_MIN_FREE:
        return None
    return TMPFS


def pytest_configure(config: pytest.Config) -> None:
    """Test stores live in memory when the machine allows it: every test migrates a fresh database
    (~90 DDL statements) and the CLI tests open fresh embedded stores, and the engine's DDL costs 3-5
    times more on disk than on tmpfs. An explicit ``TMPDIR`` or ``--basetemp`` wins."""
    if os.environ.get(TMPFS_ENV) == "0" or "TMPDIR" in os.environ or config.option.basetemp:
        return
    tmpfs = _roomy_tmpfs()
    if tmpfs is not None:
        os.environ["TMPDIR"] = str(tmpfs)  # the workers and the tower processes the tests start
        tempfile.tempdir = None  # gettempdir() looks again


def pytest_report_header() -> str:
    from clock import ANCHOR

    return (
        f"test clock: simulated data ends at {ANCHOR.isoformat()} (TOWER_TEST_NOW to reproduce)\n"
        f"temporary files and test stores: {tempfile.gettempdir()} ({TMPFS_ENV}=0 keeps them off tmpfs)"
    )


@pytest.fixture(scope="session")
def storage_settings(tmp_path_factory: pytest.TempPathFactory) -> StorageSettings:
    """Settings of the store shared by this pytest process."""
    url = os.environ.get(SERVER_URL_ENV)
    data_dir = tmp_path_factory.mktemp("tower-data")
    # TOWER_TEST_KEEP_DATA=1: no retention in the test store, for replaying a TOWER_TEST_NOW anchor
    # older than the retention (30 days) would keep
    keep = os.environ.get(KEEP_DATA_ENV) == "1"
    ttl = {"ttl_days": {table: 0 for table in DEFAULT_TTL_DAYS}} if keep else {}
    if url:
        cluster = os.environ.get(SERVER_CLUSTER_ENV) or None
        return StorageSettings(dsn=url, data_dir=data_dir, cluster=cluster, **ttl)
    return StorageSettings(data_dir=data_dir, **ttl)


@pytest.fixture(scope="session")
def engine(storage_settings: StorageSettings) -> Iterator[Store]:
    """The process-wide store (holds the embedded data-dir lock for the session)."""
    store = open_store(storage_settings, database="default", command="pytest")
    yield store
    store.close()


def new_database_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def empty_store(engine: Store, storage_settings: StorageSettings) -> Iterator[Store]:
    """A store bound to a fresh database that does not exist yet; dropped afterwards."""
    store = Store(storage_settings, new_database_name())
    yield store
    store.drop_database()
    store.close()


@dataclass
class _Migrated:
    """A migrated database as a fresh migration leaves it: its tables' DDL and the rows it seeds."""

    name: str
    schema: list[tuple[str, str]]
    seeds: dict[str, tuple[list[str], list[Sequence[Any]]]]


class MigratedDatabases:
    """This pytest process's migrated databases. A test's database, emptied after the test, serves the
    next one: migrating costs ~90 DDL statements (1.0-1.2 CPU-s each time, measured under load), emptying
    one ``TRUNCATE``. A database whose schema a test changed (TTL, settings, a table added or dropped)
    is dropped instead, so every test starts on exactly what a fresh migration leaves. On a ClickHouse
    server each test migrates anew."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self.reuse = settings.dsn is None
        self.free: list[_Migrated] = []

    def take(self, prefix: str) -> tuple[Store, _Migrated]:
        if self.free:
            migrated = self.free.pop()
            return Store(self.settings, migrated.name), migrated
        store = Store(self.settings, new_database_name(prefix))
        migrate(store, KEY_ROLES)
        seeds = {}
        for table in store.query(SCHEMA_SEEDED, {"db": store.database}).result_rows:
            rows = store.query(f"SELECT * FROM {store.ident(table[0])}")
            seeds[table[0]] = (list(rows.column_names), list(rows.result_rows))
        return store, _Migrated(store.database, self._schema(store), seeds)

    def give_back(self, store: Store, migrated: _Migrated) -> None:
        try:
            if not self.reuse or self._schema(store) != migrated.schema:
                store.drop_database()
                return
            store.command(f"TRUNCATE ALL TABLES FROM `{store.database}`")
            for table, (columns, rows) in migrated.seeds.items():
                store.insert(table, rows, columns)
            self.free.append(migrated)
        finally:
            store.close()

    @staticmethod
    def _schema(store: Store) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in store.query(SCHEMA_TABLES, {"db": store.database}).result_rows]


SCHEMA_TABLES = (
    "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name"
)
SCHEMA_SEEDED = "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' AND total_rows > 0"


@pytest.fixture(scope="session")
def migrated_databases(engine: Store, storage_settings: StorageSettings) -> Iterator[MigratedDatabases]:
    pool = MigratedDatabases(storage_settings)
    yield pool
    for migrated in pool.free:
        leftover = Store(storage_settings, migrated.name)
        leftover.drop_database()
        leftover.close()


@pytest.fixture
def store(migrated_databases: MigratedDatabases) -> Iterator[Store]:
    """A store bound to a fully migrated database holding nothing a fresh migration would not."""
    store, migrated = migrated_databases.take("t")
    yield store
    migrated_databases.give_back(store, migrated)


@pytest.fixture(scope="module")
def module_store(migrated_databases: MigratedDatabases) -> Iterator[Store]:
    """A migrated database shared by one test module (for expensive data sets)."""
    store, migrated = migrated_databases.take("m")
    yield store
    migrated_databases.give_back(store, migrated)


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests save screenshots and other artifacts for people to look at."""
    path = Path(os.environ.get("TOWER_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
