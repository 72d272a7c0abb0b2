"""`tower migrate` on a store that already holds spans: the order-keyed tables are backfilled from
them, one day at a time with progress, resumably (an interrupted run carries on with the next day)
and idempotently (running it again changes nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kpis import state as kpi_state
from storage import Store
from storage import migrate as migrate_module
from storage.migrate import SchemaNotReady, available, migrate
from tower import runtime
from tracing import attribution
from tracing.conventions import KEY_ROLES
from tracing.timeline import find_orders, order_timeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracing"))
from scenarios import EXPECTED_HOPS, batch_of, edi_split_order, linked_order
from support.spans import insert


@pytest.fixture
def old_store(empty_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store migrated before the order-keyed tables existed, holding spans of several days."""
    before = [m for m in available() if m.version < 60]
    monkeypatch.setattr(migrate_module, "available", lambda: before)
    migrate(empty_store, KEY_ROLES)
    insert(empty_store, edi_split_order() + linked_order() + batch_of(20), attribute=False)
    monkeypatch.undo()
    assert (
        empty_store.scalar(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'order_spans'"
        )
        == 0
    )
    return empty_store


def _story(store: Store) -> list[tuple[str, str]]:
    return sorted(
        (r["OrderId"], r["SpanId"])
        for r in store.rows("SELECT DISTINCT OrderId, SpanId FROM order_spans FINAL")
    )


def test_migrate_backfills_the_order_story_day_by_day_and_resumes(old_store: Store) -> None:
    days = old_store.scalar("SELECT uniqExact(toDate(Timestamp)) FROM otel_traces")
    assert days >= 4
    calls: list[tuple[int, int, str]] = []

    def interrupt_after_two(done: int, total: int, step: str) -> None:
        calls.append((done, total, step))
        if done == 2:
            raise KeyboardInterrupt  # the operator stops it

    with pytest.raises(KeyboardInterrupt):
        runtime.migrate_store(old_store, interrupt_after_two)
    assert [(d, t) for d, t, _ in calls] == [(1, days), (2, days)]
    assert all(step.startswith("day ") for _, _, step in calls)
    # the next run resumes with the third day
    calls.clear()
    assert runtime.migrate_store(old_store, lambda d, t, s: calls.append((d, t, s))) == []
    assert [(d, t) for d, t, _ in calls] == [(i, days - 2) for i in range(1, days - 1)]
    assert attribution.pending_days(old_store) == []
    timeline = order_timeline(old_store, "SO-1001")
    assert [(h.stage, h.system, h.start, h.end) for h in timeline.hops] == EXPECTED_HOPS
    assert {s.via for s in timeline.spans} >= {
        "order",
        "batch",
        "key:shipment.tracking_number",
        "linked_from",
    }
    assert sorted(m.order_id for m in find_orders(old_store, "B-77")) == ["SO-1001", "SO-1002"]
    assert [m.order_id for m in find_orders(old_store, "1Z002")] == ["SO-1001"]
    # running it again changes nothing
    story = _story(old_store)
    calls.clear()
    runtime.migrate_store(old_store, lambda d, t, s: calls.append((d, t, s)))
    assert calls == [] and _story(old_store) == story
    assert attribution.backfill(old_store) == [] and _story(old_store) == story


def test_a_fresh_store_needs_no_backfill(empty_store: Store) -> None:
    runtime.migrate_store(empty_store)
    steps = empty_store.query(
        "SELECT Backfill, Step FROM tower_backfills FINAL ORDER BY Backfill, Step"
    ).result_rows
    # the order-keyed tables are marked backfilled, and so is the KPI engine's state (issue 17)
    assert sorted(map(tuple, steps)) == sorted(
        [(attribution.BACKFILL, "complete"), (kpi_state.BACKFILL, kpi_state.STEP)]
    )
    assert attribution.pending_days(empty_store) == []


def test_processes_on_a_server_wait_for_an_interrupted_backfill(old_store: Store) -> None:
    """On a server only `tower migrate` runs the backfill, so a process must not start (and
    `tower migrate --check` must not pass) while it is unfinished: the order-keyed tables would
    miss the older orders."""

    def interrupt(done: int, total: int, step: str) -> None:
        raise KeyboardInterrupt  # the migrate job is stopped after its first day

    with pytest.raises(KeyboardInterrupt):
        runtime.migrate_store(old_store, interrupt)
    assert migrate_module.pending(old_store) == []  # every migration is applied
    with pytest.raises(
        SchemaNotReady, match=r"backfill of the order-keyed tables and the KPI state.*tower migrate"
    ):
        runtime.check_ready(old_store)
    runtime.migrate_store(old_store)  # the job runs again and resumes
    runtime.check_ready(old_store)
