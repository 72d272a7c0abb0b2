"""A span sent twice counts once in every reader.

At-least-once senders (the SDK's retries, the tower's own agents) send a span again, with the same
trace and span ids, when they did not see the acknowledgement. The same independent traffic (plain
OpenTelemetry SDK spans, reproducible ids) goes through a real collector into two stores; into the
second, 5% of the spans are sent a second time, each in a request of its own. Every reader — search,
timeline, KPI facts and rollups, SLA results and breaches, the exception queue, per-system health,
alert signals — must give the same figures for both.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from clock import ANCHOR
from support.sdk_orders import Sender, mixed_traffic, ns

from alerts import signals
from alerts.rules import parse_rules
from collector.testing import running_collector
from kpis import reports as service
from kpis.jobs import KpiEngine
from kpis.policy import Policy, load_policy
from storage import StorageSettings, Store
from storage.migrate import migrate
from tracing.conventions import KEY_ROLES
from tracing.timeline import find_orders, order_timeline

START = ns((ANCHOR - timedelta(days=9)).replace(hour=7, minute=0, second=0))
NOW = ANCHOR
ORDERS = 32
SEED = 17


@pytest.fixture(scope="module")
def stores(
    engine: Store, storage_settings: StorageSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Store, list[str], int]]:
    policy = load_policy()
    made: list[Store] = []
    orders: list[str] = []
    resent = 0
    try:
        for copies in (0, 1):
            store = Store(storage_settings, f"resend_{uuid.uuid4().hex[:12]}")
            made.append(store)
            migrate(store, KEY_ROLES)
            # requests batched into half-second spool segments (one insert each), as a collector does
            with running_collector(
                store, tmp_path_factory.mktemp("spool"), flush_interval_s=0.5
            ) as collector:
                sender = Sender(collector.http_endpoint, seed=SEED)
                try:
                    orders = mixed_traffic(sender, START, ORDERS, seed=SEED)
                    if copies:
                        again = random.Random(SEED).sample(sender.sent, max(1, len(sender.sent) // 20))
                        sender.resend(again)
                        resent = len(again)
                finally:
                    sender.shutdown()
                assert collector.wait_drained(timeout=180)
            results = KpiEngine(store, policy).recompute()
            assert [r.status for r in results] == ["ok"] * len(results), [r.error for r in results]
        yield made[0], made[1], orders, resent
    finally:
        for store in made:
            store.drop_database()
            store.close()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def test_the_resent_spans_are_stored_twice(stores: tuple[Store, Store, list[str], int]) -> None:
    once, twice, _, resent = stores
    count = "SELECT count() FROM otel_traces"
    assert resent >= 5
    assert twice.scalar(count) == once.scalar(count) + resent  # the collector stored them again


STRUCTURAL = {"child", "link", "linked_from"}


def _story(timeline: Any) -> dict[str, Any]:
    """The timeline as a user reads it. A span that is both a child and a link target of the order is
    reached by equally strong reasons; which one it names depends on which of its neighbours the
    collector stored first (not on re-sends), so the structural reasons compare as one."""
    story = timeline.model_dump()
    for span in story["spans"]:
        if span["via"] in STRUCTURAL:
            span["via"] = "structural"
    return story


def _matches(matches: list[Any]) -> list[dict[str, Any]]:
    """Search results as a user reads them; reached through the trace or a link compare as one."""
    rows = [m.model_dump() for m in matches]
    for row in rows:
        if row["via"] in ("trace", "link"):
            row["via"] = "structural"
    return rows


def test_search_and_timelines_are_the_same(stores: tuple[Store, Store, list[str], int]) -> None:
    once, twice, orders, _ = stores
    assert len(orders) == ORDERS
    for order in orders:
        a = order_timeline(once, order, as_of=NOW)
        b = order_timeline(twice, order, as_of=NOW)
        # span by span first (a failure names the span and the field that differs)
        story_a, story_b = _story(a), _story(b)
        assert {s["span_id"]: s for s in story_b["spans"]} == {s["span_id"]: s for s in story_a["spans"]}, (
            order
        )
        assert story_b == story_a, order
        for values in a.keys.values():
            for key in values:
                assert _matches(find_orders(twice, key)) == _matches(find_orders(once, key)), key


def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in ("UpdatedAt", "Version")} for row in store.rows(sql)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM order_facts FINAL ORDER BY OrderId",
        "SELECT * FROM sla_results FINAL ORDER BY OrderId, Sla",
        "SELECT * FROM order_exceptions FINAL ORDER BY OrderId, ExceptionType",
        "SELECT * EXCEPT Version FROM kpi_daily WHERE (Day, Version) IN "
        "(SELECT Day, max(Version) FROM kpi_daily GROUP BY Day) ORDER BY ALL",
        "SELECT * EXCEPT Version FROM kpi_system_daily WHERE (Day, Version) IN "
        "(SELECT Day, max(Version) FROM kpi_system_daily GROUP BY Day) ORDER BY ALL",
    ],
)
def test_kpi_tables_are_the_same(stores: tuple[Store, Store, list[str], int], sql: str) -> None:
    once, twice, _, _ = stores
    first = _rows(once, sql)
    assert first
    assert _rows(twice, sql) == first


def test_kpi_report_breaches_exceptions_and_health_are_the_same(
    stores: tuple[Store, Store, list[str], int], policy: Policy
) -> None:
    once, twice, _, _ = stores
    start, end = (ANCHOR - timedelta(days=12)).date(), (ANCHOR + timedelta(days=2)).date()
    for store in (once, twice):
        assert service.kpi_report(store, policy, start, end).value("orders").value == ORDERS
    assert service.kpi_report(twice, policy, start, end) == service.kpi_report(once, policy, start, end)
    assert service.sla_breaches(twice, policy, limit=1000, now=NOW) == service.sla_breaches(
        once, policy, limit=1000, now=NOW
    )
    queue = service.exceptions_queue(once, policy, status="", limit=1000, now=NOW)
    assert queue.items and service.exceptions_queue(twice, policy, status="", limit=1000, now=NOW) == queue
    health = service.system_health(once, now=NOW, window_s=14 * 86400, lookback_s=14 * 86400)
    assert (
        health and service.system_health(twice, now=NOW, window_s=14 * 86400, lookback_s=14 * 86400) == health
    )


RULES = parse_rules(
    """
rules:
  - {name: stalled, signal: stalled_orders, params: {age: 1h, lookback: 14d}, group_by: [system], op: '>', threshold: 0}
  - {name: errors, signal: system_error_rate, params: {window: 14d}, group_by: [system], op: '>', threshold: 0}
  - {name: latency, signal: system_latency, params: {window: 14d, quantile: 0.5}, group_by: [system], op: '>', threshold: 0}
  - {name: volume, signal: span_count, params: {window: 14d}, group_by: [system_kind], op: '>', threshold: 0}
route: {receiver: r}
receivers: [{name: r}]
"""
).rules


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_alert_signals_are_the_same(stores: tuple[Store, Store, list[str], int], rule: Any) -> None:
    once, twice, _, _ = stores
    first = signals.evaluate(once, rule, NOW)
    assert first, rule.name
    assert signals.evaluate(twice, rule, NOW) == first
