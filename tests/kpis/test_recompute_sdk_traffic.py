"""A full recompute of orders sent with the plain OpenTelemetry SDK through the real collector, one
span per request (tests/support/sdk_orders.py), not the simulator: what a person sees when the
recompute returns (it holds the facts' merges while it runs and writes each block of facts as a part
of its own; blocks of one order here), and on the next run after one more span is acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clock import ANCHOR
from support.sdk_orders import MINUTE_NS, SECOND_NS, Sender, hop, ns, order_keys, plain_order_steps, send_step

from collector.testing import running_collector
from kpis import jobs as kpi_jobs
from kpis import reports
from kpis.jobs import JOB_NAMES, KpiEngine
from kpis.policy import load_policy
from storage import Store

POLICY = load_policy()
START = (ANCHOR - timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
PERIOD = (START.date() - timedelta(days=1), START.date() + timedelta(days=3))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_a_full_recompute_of_sdk_traffic_shows_every_order_and_the_next_span(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = KpiEngine(store, POLICY, overlap=timedelta(0))
    one_order_blocks = ", max_block_size = 1, min_insert_block_size_bytes = 1"
    monkeypatch.setitem(
        kpi_jobs.FULL_SETTINGS, "order_facts", kpi_jobs.FULL_SETTINGS["order_facts"] + one_order_blocks
    )
    orders = [order_keys(f"SO-SDK-{i}") for i in range(3)]
    steps = [plain_order_steps(order, ns(START) + i * MINUTE_NS) for i, order in enumerate(orders)]
    # the web shop of the third order has a broken clock: its checkout span says 1 January 1972,
    # which the collector refuses (older than the spans' retention); the order's other hops arrive
    broken = ns(datetime(1972, 1, 1, tzinfo=UTC))
    steps[2][0] = {**steps[2][0], "start": broken, "end": broken + SECOND_NS}
    with running_collector(store, tmp_path / "spool") as collector:
        sender = Sender(collector.http_endpoint, seed=17)
        try:
            for order_steps in steps:
                for step in order_steps:
                    send_step(sender, step)
            # an at-least-once WMS sends its ship confirmations again (same trace and span ids)
            sender.resend([s for s in sender.sent if s.name == "ship confirm"])
            assert collector.wait_drained(timeout=120)

            assert {r.job: r.status for r in engine.recompute()} == dict.fromkeys(JOB_NAMES, "ok")
            facts = {o.order_id: reports.order_facts(store, o.order_id) for o in orders}
            for i, order in enumerate(orders[:2]):
                fact = facts[order.order_id]
                assert fact is not None
                assert _utc(fact["CaptureAt"]) == START + timedelta(minutes=i)
                assert fact["HopCount"] == 8  # the re-sent ship span counts once
                assert fact["CycleTimeS"] == 3 * 3600 + 10  # capture start to ship end
                assert fact["Status"] == "closed"
            late_clock = facts["SO-SDK-2"]
            assert late_clock is not None and late_clock["HopCount"] == 7
            # without its refused checkout, the order's clock starts at its first hop that arrived
            assert _utc(late_clock["CaptureAt"]) == START + timedelta(minutes=2 + 3)
            report = reports.kpi_report(store, POLICY, *PERIOD)
            assert report.value("orders").value == 3
            assert report.value("touchless_rate").value == 1.0

            # a credit analyst's release of SO-SDK-0, acknowledged after the recompute
            send_step(
                sender,
                {
                    "service": "erp-east",
                    "name": "credit release",
                    "start": ns(START) + 21 * MINUTE_NS,
                    "end": ns(START) + 22 * MINUTE_NS,
                    "attrs": hop(
                        "credit", "erp-east", "erp", **{"order.id": "SO-SDK-0", "enduser.id": "dana"}
                    ),
                },
            )
        finally:
            sender.shutdown()
        assert collector.wait_drained(timeout=60)
    results = {r.job: r for r in engine.run_all()}
    assert results["order_facts"].rows == 1
    touched = reports.order_facts(store, "SO-SDK-0")
    assert touched is not None and touched["ManualTouchCount"] == 1 and touched["HopCount"] == 9
    touchless = reports.kpi_report(store, POLICY, *PERIOD).value("touchless_rate")
    assert (touchless.numerator, touchless.denominator) == (2, 3)
