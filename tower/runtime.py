"""Process assembly helpers shared by the commands: settings, store, errors as one clear line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from ai.policy import AiPolicy, AiPolicyError, load_ai_policy
from kpis import state as kpi_state
from kpis.policy import Policy, PolicyError, load_policy
from storage import Store, StoreError, StoreLockedError, open_store
from storage.migrate import MigrationError, SchemaNotReady, check_schema, migrate
from tower.settings import SettingsError, TowerSettings, load_settings
from tracing import attribution
from tracing.conventions import KEY_ROLES

BackfillProgress = Callable[[int, int, str], None]

__all__ = [
    "MigrationError",
    "ai_policy_or_exit",
    "check_ready",
    "configure_logging",
    "ensure_schema",
    "fail",
    "migrate_store",
    "policy_or_exit",
    "settings_or_exit",
    "store_or_exit",
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``tower: <message>`` on stderr and exit."""
    print(f"tower: {message}", file=sys.stderr)
    raise SystemExit(code)


def settings_or_exit(config: Path | None) -> TowerSettings:
    try:
        return load_settings(config)
    except SettingsError as exc:
        fail(str(exc))


def policy_or_exit(settings: TowerSettings) -> Policy:
    """The KPI policy of this process (``kpis.policy_file``, else the shipped one), loaded once by the
    command and passed to every part that needs it; a bad file exits with one clear line."""
    try:
        return load_policy(settings.kpis.policy_file)
    except PolicyError as exc:
        fail(f"invalid KPI policy: {exc}")


def ai_policy_or_exit(settings: TowerSettings) -> AiPolicy:
    """The AI policy (``ai.policy_file``, else the shipped one); a bad file exits with one clear line."""
    try:
        return load_ai_policy(settings.ai.policy_file)
    except AiPolicyError as exc:
        fail(f"invalid AI policy: {exc}")


def migrate_store(store: Store, progress: BackfillProgress | None = None) -> list[str]:
    """Apply pending migrations with the tower's key roles, then finish any backfill they need
    (the order-keyed tables from spans stored before them: resumable, one day at a time,
    ``progress(done, total, step)`` after each day); returns the migration names applied."""
    applied = migrate(store, KEY_ROLES)
    if any(m.name == attribution.MIGRATION_NAME for m in applied) and not store.scalar(
        "SELECT count() FROM otel_traces"
    ):
        attribution.mark_backfilled(store)  # created on a store without spans: nothing to fill
    attribution.backfill(store, progress)
    # the KPI state (0080) from order_spans stored before its views existed; on a store without
    # spans there is nothing to read (the views keep it from then on)
    if not kpi_state.is_built(store):
        if store.scalar("SELECT count() FROM order_spans"):
            kpi_state.rebuild(store)
        else:
            kpi_state.mark_built(store)
    return [f"{m.version:04d}_{m.name}" for m in applied]


def check_ready(store: Store) -> None:
    """Raise :class:`SchemaNotReady` unless every migration is applied and the backfills they need
    have finished (``tower migrate`` runs both; an interrupted run leaves the backfill to resume)."""
    check_schema(store)
    unfinished = [
        name
        for name, done in (
            ("the order-keyed tables", attribution.is_backfilled),
            ("the KPI state", kpi_state.is_built),
        )
        if not done(store)
    ]
    if unfinished:
        raise SchemaNotReady(
            f"database {store.database} has its migrations but the backfill of {' and '.join(unfinished)} "
            "has not finished: run `tower migrate` (it resumes where it stopped)"
        )


def ensure_schema(store: Store) -> None:
    """The embedded store migrates itself (one process owns it); on a ClickHouse server or cluster
    only ``tower migrate`` runs DDL: other processes check the schema version and refuse to start
    with what to run when it is behind (no ``ON CLUSTER`` DDL at start-up, so a process starts while
    a node is down)."""
    if store.embedded:
        migrate_store(store)
    else:
        check_ready(store)


@contextmanager
def store_or_exit(settings: TowerSettings, command: str, *, migrate_first: bool = True) -> Iterator[Store]:
    """Open the store for a command (its schema ensured, see :func:`ensure_schema`); clear one-line
    errors instead of stack traces."""
    try:
        store = open_store(settings.storage, command=command)
    except StoreLockedError as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(str(exc))
    try:
        if migrate_first:
            try:
                ensure_schema(store)
            except MigrationError as exc:
                fail(str(exc))
        yield store
    finally:
        store.close()


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
