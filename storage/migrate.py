"""Apply the numbered ``.sql`` migrations in order, once each, recorded in ``tower_migrations``.

Migration files are templates with a few placeholders so that one file serves a single node and a
cluster. Every value substituted is an identifier validated by :mod:`storage.settings`:

``{{db}}``                       the database, quoted
``{{on_cluster}}``               ``ON CLUSTER `name``` on a cluster, else nothing
``{{table:NAME}}``               the table that holds data: ``db.NAME`` (``db.NAME_local`` on a cluster)
``{{engine:EXPR}}``              ``EXPR`` (``ReplicatedEXPR`` with the replica path on a cluster)
``{{ttl:TABLE:TIME_EXPR}}``      ``TTL TIME_EXPR + toIntervalDay(N)`` when TABLE has a retention
``{{dedup_window}}``             ``, non_replicated_deduplication_window = N`` (``replicated_...``
                                 with Replicated engines)
``{{distributed:NAME:SHARDING}}`` a Distributed table ``NAME`` over ``NAME_local`` on a cluster
``{{alter_distributed:NAME:CLAUSE}}`` ``ALTER TABLE db.NAME ON CLUSTER ... CLAUSE`` for the Distributed
                                 table ``NAME`` on a cluster (its local tables are altered with
                                 ``{{table:NAME}}``), else nothing
``{{include:FRAGMENT[:SOURCE]}}``  the text of ``include/FRAGMENT.sql`` with ``{{source}}`` = the table
                                 ``SOURCE`` (``{{table:SOURCE}}``); expanded before the checksum, so a
                                 changed fragment is a changed migration. The same fragments serve
                                 backfills over a bounded source (:func:`fragment`)
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from storage.client import Store
from storage.errors import TowerError

MIGRATIONS_PACKAGE = "storage.migrations"
FRAGMENTS_PACKAGE = "storage.migrations.include"
MIGRATIONS_TABLE = "tower_migrations"
LOCAL_SUFFIX = "_local"
DEDUP_WINDOW = 10_000
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)(?::([^{}]*))?\}\}")
_INCLUDE = re.compile(r"\{\{include:([a-z0-9_]+)(?::([a-z0-9_]+))?\}\}")
_FRAGMENT_NAME = re.compile(r"^[a-z0-9_]+$")
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)
_ENGINE = re.compile(r"^([A-Za-z]*MergeTree)\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


class MigrationError(TowerError, RuntimeError):
    pass


def available() -> list[Migration]:
    """Every migration file shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILE.match(entry.name)
        if match:
            text = expand_includes(entry.read_text(encoding="utf-8"))
            found.append(Migration(int(match.group(1)), match.group(2), text))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


def _fragment_text(name: str) -> str:
    if not _FRAGMENT_NAME.match(name):
        raise MigrationError(f"bad fragment name {name!r}")
    path = resources.files(FRAGMENTS_PACKAGE).joinpath(f"{name}.sql")
    if not path.is_file():
        raise MigrationError(f"no SQL fragment include/{name}.sql")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def expand_includes(text: str, depth: int = 0) -> str:
    """``text`` with every ``{{include:FRAGMENT[:SOURCE]}}`` replaced by the fragment (recursively)."""
    if depth > 8:
        raise MigrationError("SQL fragments include each other too deeply")

    def substitute(match: re.Match[str]) -> str:
        body = expand_includes(_fragment_text(match.group(1)), depth + 1)
        source = match.group(2)
        return body.replace("{{source}}", f"{{{{table:{source}}}}}") if source else body

    return _INCLUDE.sub(substitute, text)


@dataclass(frozen=True)
class Layout:
    """What the templates need to know about the target: database, cluster, retention.

    ``name`` is the layout (``storage.layout``): ``single``, ``replicated`` or ``sharded``. On a
    cluster DDL runs ``ON CLUSTER`` with Replicated engines; ``on_cluster`` and ``replicated`` are
    False only for the in-process two-shard test harness, whose embedded engine has no Keeper (so
    it runs each node's DDL itself, which is what ``ON CLUSTER`` does).
    """

    database: str
    cluster: str | None
    ttl_days: Mapping[str, int]
    name: str = "single"
    on_cluster: bool = True
    replicated: bool = True

    def __post_init__(self) -> None:
        if self.cluster and self.name == "single":
            object.__setattr__(self, "name", "replicated")

    @classmethod
    def of(cls, store: Store) -> Layout:
        name = store.settings.layout or ("replicated" if store.cluster else "single")
        return cls(store.database, store.cluster, store.settings.ttl_days, name)

    @property
    def on_cluster_clause(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster and self.on_cluster else ""


def render(text: str, layout: Layout) -> list[str]:
    """The statements of one migration file for ``layout`` (empty statements dropped)."""
    db = f"`{layout.database}`"
    cluster = layout.cluster

    def table(name: str) -> str:
        return f"{db}.`{name}{LOCAL_SUFFIX if cluster else ''}`"

    def substitute(match: re.Match[str]) -> str:
        key, arg = match.group(1), match.group(2) or ""
        if key == "db":
            return db
        if key == "on_cluster":
            return layout.on_cluster_clause.strip()
        if key == "table":
            return table(arg)
        if key == "engine":
            return _engine(arg, cluster if layout.replicated else None)
        if key == "ttl":
            name, _, expr = arg.partition(":")
            days = layout.ttl_days.get(name, 0)
            return f"TTL {expr} + toIntervalDay({days})" if days > 0 else ""
        if key == "dedup_window":
            # a replayed spool segment (same insert_deduplication_token) is dropped within the window;
            # Replicated tables keep their own window (explicit: its default changed between releases)
            replicated = bool(cluster) and layout.replicated
            return f", {'' if replicated else 'non_'}replicated_deduplication_window = {DEDUP_WINDOW}"
        if key == "alter_distributed":
            name, _, clause = arg.partition(":")
            return f"ALTER TABLE {db}.`{name}`{layout.on_cluster_clause} {clause}" if cluster else ""
        if key == "distributed":
            name, _, sharding = arg.partition(":")
            if not cluster:
                return ""
            return (
                f"CREATE TABLE IF NOT EXISTS {db}.`{name}`{layout.on_cluster_clause} AS {table(name)} "
                f"ENGINE = Distributed(`{cluster}`, `{layout.database}`, `{name}{LOCAL_SUFFIX}`, {sharding})"
            )
        raise MigrationError(f"unknown placeholder {{{{{key}}}}}")

    rendered = _PLACEHOLDER.sub(substitute, text)
    statements = []
    for chunk in _STATEMENT_END.split(rendered):
        body = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            statements.append(body)
    return statements


def fragment(name: str, layout: Layout, source: str) -> str:
    """One SQL fragment of ``include/`` rendered for ``layout``, reading from ``source`` (a table
    name or a parenthesised subquery, e.g. one day of ``otel_traces``): the same SELECT a
    migration's materialized view runs, for backfilling what was stored before it existed."""
    text = expand_includes(_fragment_text(name)).replace("{{source}}", source)
    [statement] = render(text, layout)
    return statement


# The Keeper path of a table replicated within its shard, and of one replicated on every node of the
# cluster (the migration history: one history for the cluster, whichever node a process reaches).
SHARD_REPLICA_PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
CLUSTER_REPLICA_PATH = "'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}'"


def _engine(expr: str, cluster: str | None, path: str = SHARD_REPLICA_PATH) -> str:
    if not cluster:
        return expr
    match = _ENGINE.match(expr.strip())
    if not match:
        raise MigrationError(f"cannot replicate engine {expr!r}")
    name, args = match.group(1), match.group(2).strip()
    return f"Replicated{name}({path}{', ' + args if args else ''})"


def applied(store: Store) -> dict[int, str]:
    """Applied versions and their checksums."""
    rows = store.query(f"SELECT Version, Checksum FROM {store.ident(MIGRATIONS_TABLE)} FINAL").result_rows
    return {int(version): checksum for version, checksum in rows}


class SchemaNotReady(MigrationError):
    """The store's schema is older than this tower's: ``tower migrate`` has not run yet."""


def pending(store: Store) -> list[Migration]:
    """Migrations this tower ships that the store has not applied (all of them on a new database).

    Reads only the history table: a process checks the schema version without running DDL.
    """
    # the admin client: the database itself may not exist yet
    exists = (
        store.admin_client()
        .query(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": store.database, "t": MIGRATIONS_TABLE},
        )
        .result_rows[0][0]
    )
    done = applied(store) if exists else {}
    return [m for m in available() if m.version not in done]


def check_schema(store: Store) -> None:
    """Raise :class:`SchemaNotReady` naming what to run when migrations are pending."""
    missing = pending(store)
    if missing:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise SchemaNotReady(
            f"database {store.database} lacks {len(missing)} migration(s) this tower needs ({names}{more}): "
            "run `tower migrate` once (a job or init step) before starting tower processes on a ClickHouse "
            "server; they do not run DDL themselves"
        )


def check_layout(store: Store, layout: Layout, *, refuse_sharded: bool = True) -> None:
    """Refuse a layout the tower cannot run correctly yet, with what to do instead."""
    if not layout.cluster:
        return
    shards = int(
        store.admin_client()
        .query(
            "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = {c:String}",
            parameters={"c": layout.cluster},
        )
        .result_rows[0][0]
    )
    if shards == 0:
        raise MigrationError(
            f"cluster {layout.cluster!r} is not defined on the ClickHouse server (system.clusters): "
            "check storage.cluster against remote_servers in the server config"
        )
    if not refuse_sharded:
        return
    if layout.name == "sharded" or shards > 1:
        raise MigrationError(
            f"cluster {layout.cluster!r} has {shards} shard(s) and layout {layout.name}: the sharded layout "
            "is refused until order-keyed tables are co-located by order (issue 20). Use a cluster of one "
            "shard with replicas (layout replicated) or one server (layout single)."
        )


def history_table(layout: Layout) -> str:
    """The DDL of ``tower_migrations``. On a cluster it is one table replicated on every node (its
    Keeper path has no ``{shard}``), so every process sees one history whichever node it reaches."""
    engine = _engine(
        "ReplacingMergeTree(AppliedAt)", layout.cluster if layout.replicated else None, CLUSTER_REPLICA_PATH
    )
    return (
        f"CREATE TABLE IF NOT EXISTS `{layout.database}`.`{MIGRATIONS_TABLE}`{layout.on_cluster_clause} "
        "(Version UInt32, Name String, Checksum String, AppliedAt DateTime64(3)) "
        f"ENGINE = {engine} ORDER BY Version"
    )


def migrate(
    store: Store,
    key_attributes: Mapping[str, bool | str] | None = None,
    *,
    layout: Layout | None = None,
    refuse_sharded: bool = True,
) -> list[Migration]:
    """Create the database and apply pending migrations; returns those applied now.

    ``key_attributes`` maps span attribute names that are business keys to their role in order
    attribution (``order``: the value is an order id; ``strong``: identifies one order, shipment or
    invoice; ``scope``: scopes a span to one order, e.g. an EDI transaction-set number; ``weak``:
    shared by many orders, search only) or, the older form, to whether their value is an order id.
    They are recorded in ``tower_key_attributes`` and ``tower_key_roles`` for the index and
    attribution views to use. ``layout`` defaults to the store's settings; ``refuse_sharded=False``
    is for the two-shard test harness only.
    """
    layout = layout or Layout.of(store)
    admin = store.admin_client()
    check_layout(store, layout, refuse_sharded=refuse_sharded)
    on_cluster = layout.on_cluster_clause
    admin.command(f"CREATE DATABASE IF NOT EXISTS `{layout.database}`{on_cluster}")
    admin.command(history_table(layout))
    done = applied(store)
    newly: list[Migration] = []
    for migration in available():
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql changed after it was applied; "
                    "migrations are append-only: add a new numbered file instead"
                )
            continue
        for statement in render(migration.text, layout):
            admin.command(statement)
        store.command(
            f"INSERT INTO {store.ident(MIGRATIONS_TABLE)} (Version, Name, Checksum, AppliedAt) "
            "SELECT {v:UInt32}, {n:String}, {c:String}, now64(3)",
            {"v": migration.version, "n": migration.name, "c": migration.checksum},
        )
        newly.append(migration)
    if key_attributes is not None:
        sync_key_attributes(store, key_attributes, layout)
    apply_ttl(store, layout=layout)
    return newly


KEY_ROLES = ("order", "strong", "scope", "weak")


def _role(value: bool | str) -> str:
    if isinstance(value, bool):
        return "order" if value else "weak"
    if str(value) not in KEY_ROLES:
        raise MigrationError(f"unknown key role {value!r}; roles: {', '.join(KEY_ROLES)}")
    return str(value)


def sync_key_attributes(
    store: Store, key_attributes: Mapping[str, bool | str], layout: Layout | None = None
) -> int:
    """Make ``tower_key_attributes`` (and ``tower_key_roles``, once it exists) hold exactly
    ``key_attributes``; returns rows written."""
    layout = layout or Layout.of(store)
    wanted = {name: _role(value) for name, value in key_attributes.items()}
    written = _sync(
        store,
        layout,
        "tower_key_attributes",
        "IsOrderId",
        {name: int(role == "order") for name, role in wanted.items()},
    )
    if _table_exists(store, "tower_key_roles"):
        written += _sync(store, layout, "tower_key_roles", "Role", dict(wanted))
    return written


def _table_exists(store: Store, table: str) -> bool:
    return bool(
        store.scalar(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            {"db": store.database, "t": table},
        )
    )


def _sync(store: Store, layout: Layout, table: str, column: str, wanted: Mapping[str, int | str]) -> int:
    current: dict[str, Any] = {
        row[0]: row[1]
        for row in store.query(f"SELECT Name, {column} FROM {store.ident(table)} FINAL").result_rows
    }
    changed = [(n, v) for n, v in wanted.items() if current.get(n) != v]
    removed = [n for n in current if n not in wanted]
    version = time.time_ns()
    if changed:
        store.insert(table, [[n, v, version] for n, v in changed], ["Name", column, "Version"])
    if removed:
        # a lightweight DELETE works on MergeTree tables only: on a cluster, the local tables on every
        # node (the Distributed table under the public name refuses it)
        local = table + (LOCAL_SUFFIX if layout.cluster else "")
        store.command(
            f"DELETE FROM {store.ident(local)}{layout.on_cluster_clause} WHERE Name IN {{names:Array(String)}}",
            parameters={"names": removed},
        )
    return len(changed) + len(removed)


_TTL_TABLES: dict[str, str] = {
    "otel_traces": "toDateTime(Timestamp)",
    "otel_traces_trace_id_ts": "toDateTime(Start)",
    "order_keys": "toDateTime(Timestamp)",
    "span_links": "toDateTime(Timestamp)",
    "alert_state_history": "toDateTime(At)",
    "alert_notifications": "toDateTime(At)",
    "order_spans": "toDateTime(Timestamp)",
    "span_orders": "toDateTime(Timestamp)",
    "orderless_spans": "toDateTime(Timestamp)",
    "span_arrivals": "toDateTime(ArrivedAt)",
    "system_hops": "Day",
    "exception_signals": "toDateTime(At)",
    "order_facts": "toDateTime(CaptureAt)",
    "order_paths": "toDateTime(FirstHopAt)",
    "sla_results": "toDateTime(CaptureAt)",
    "order_exceptions": "toDateTime(OpenedAt)",
    "exception_actions": "toDateTime(At)",
    "kpi_daily": "toDateTime(Day)",
    "kpi_system_daily": "toDateTime(Day)",
    "job_runs": "toDateTime(StartedAt)",
    "audit_log": "toDateTime(At)",
    "ai_order_lines": "toDateTime(Timestamp)",
    "ai_exception_spans": "toDateTime(Timestamp)",
    "ai_predictions": "toDateTime(PredictedAt)",
    "ai_monitoring": "toDateTime(At)",
}


def apply_ttl(
    store: Store, tables: Iterable[str] | None = None, *, layout: Layout | None = None
) -> list[str]:
    """Bring each table's TTL in line with the settings; returns the tables altered."""
    layout = layout or Layout.of(store)
    suffix = LOCAL_SUFFIX if layout.cluster else ""
    on_cluster = layout.on_cluster_clause
    altered = []
    wanted = tables or list(_TTL_TABLES)
    engines = {
        str(name): str(engine_full)
        for name, engine_full in store.query(
            "SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {t:Array(String)}",
            {"db": layout.database, "t": [table + suffix for table in wanted]},
        ).result_rows
    }
    for table in wanted:
        expr = _TTL_TABLES[table]
        engine_full = engines.get(table + suffix)
        if engine_full is None:
            continue
        days = layout.ttl_days.get(table, 0)
        has_ttl = " TTL " in f" {engine_full} "
        want = f"toIntervalDay({days})"
        if days > 0 and (not has_ttl or want not in engine_full):
            store.command(f"ALTER TABLE {store.ident(table + suffix)}{on_cluster} MODIFY TTL {expr} + {want}")
            altered.append(table)
        elif days == 0 and has_ttl:
            store.command(f"ALTER TABLE {store.ident(table + suffix)}{on_cluster} REMOVE TTL")
            altered.append(table)
    return altered
