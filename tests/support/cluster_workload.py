"""The cluster-mode queries, run by the two-shard harness's worker (``support.cluster``) in its engine.

``kpi_and_alert_queries(store)`` writes a few orders' hop spans through ``otel_traces`` (the
Distributed table on a cluster), runs every KPI job, the KPI, trend, systems and SLA reports and
the stalled-orders alert signal, and returns what a user would see: each step's answer, or the
error that stopped it (Code 288 on two shards while the queries filter a sharded table by a
subquery on another).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from clock import ANCHOR

from storage import Store
from support.spans import SpanRow, insert

STAGES = [
    ("capture", "shop-web", "ecommerce"),
    ("validation", "erp-east", "erp"),
    ("credit", "erp-east", "erp"),
    ("pick", "wms-dallas", "wms"),
    ("ship", "wms-dallas", "wms"),
    ("deliver", "carrier-ups", "carrier"),
    ("invoice", "finance-erp", "finance"),
]


def orders(count: int = 12) -> list[SpanRow]:
    """``count`` orders captured over the two days before the anchor; every third one stops at pick."""
    spans = []
    for n in range(count):
        order = f"SO-{n:04d}"
        at = ANCHOR - timedelta(days=2) + timedelta(hours=3 * n)
        stages = STAGES[:4] if n % 3 == 0 else STAGES
        for stage, system, kind in stages:
            spans.append(
                SpanRow(
                    trace=uuid.uuid5(uuid.NAMESPACE_URL, f"{order}/{stage}").hex,
                    name=f"{stage} {order}",
                    start=at,
                    duration=timedelta(minutes=5),
                    service=system,
                    attributes={
                        "order.id": order,
                        "order.stage": stage,
                        "system.instance": system,
                        "system.kind": kind,
                        "order.channel": "ecommerce",
                        "order.region": "us-central",
                    },
                )
            )
            at += timedelta(minutes=40)
    return spans


def kpi_and_alert_queries(store: Store) -> dict[str, Any]:
    from alerts.rules import Rule
    from alerts.signals import evaluate
    from kpis import reports
    from kpis.jobs import KpiEngine
    from kpis.policy import load_policy

    policy = load_policy()
    insert(store, orders())
    out: dict[str, Any] = {}
    for result in KpiEngine(store, policy).recompute():
        out[f"job {result.job}"] = result.rows if result.status == "ok" else f"error: {result.error}"
    start, end = (ANCHOR - timedelta(days=7)).date(), (ANCHOR + timedelta(days=1)).date()
    stalled = Rule(name="stalled", signal="stalled_orders", params={"age": "6h"})
    steps: dict[str, Callable[[], Any]] = {
        "kpi report": lambda: reports.kpi_report(store, policy, start, end).model_dump(mode="json"),
        "kpi trend": lambda: [d.model_dump(mode="json") for d in reports.kpi_trend(store, start, end)],
        "system daily": lambda: [d.model_dump(mode="json") for d in reports.system_daily(store, start, end)],
        "sla breaches": lambda: sorted(
            (b.order_id, b.sla, b.status) for b in reports.sla_breaches(store, policy, now=ANCHOR)
        ),
        "stalled orders": lambda: [
            (s.value, sorted(s.orders)) for s in evaluate(store, stalled, ANCHOR, policy=policy)
        ],
    }
    for name, step in steps.items():
        try:
            out[name] = step()
        except Exception as exc:  # the caller asserts on the message (Code 288 on two shards)
            out[name] = f"error: {exc}"
    return out


def backfill_days(store: Store) -> dict[str, Any]:
    """What the order-keyed backfill of ``tower migrate`` sees on this store: spans stored (as
    before the order-keyed tables existed, not yet attributed), the days it would fill, and the
    days left once it ran."""
    from tracing import attribution

    spans = orders()
    insert(store, spans, attribute=False)
    found = attribution.pending_days(store)
    steps = attribution.backfill(store)
    return {
        "span days": sorted({s.start.date().isoformat() for s in spans}),
        "pending": found,
        "filled": [step.name for step in steps],
        "left": attribution.pending_days(store),
    }


def collector_inserts(store: Store, scratch: str) -> dict[str, Any]:
    """What the collector's writer leaves in the store on a cluster: two spooled OTLP requests
    inserted the way the collector inserts a segment (the engine's conversion, then a replay of the
    same segment after a lost acknowledgement), and a legacy block segment."""
    from pathlib import Path

    from clock import ANCHOR_NS

    from collector.convert import Limits, convert
    from collector.engine import insert_requests
    from collector.testing import order_hop_request
    from collector.writer import insert_block

    bodies = [order_hop_request(20, seed, ANCHOR_NS).SerializeToString() for seed in (1, 2)]
    for _attempt in range(2):  # the second attempt is the replay: the same token, nothing doubled
        insert_requests(store, bodies, "segment-1", Limits(), Path(scratch) / "scratch.pb")
    legacy = convert(order_hop_request(5, 3, ANCHOR_NS), Limits()).block
    insert_block(store, legacy, "segment-2")
    local = "otel_traces" + ("_local" if store.cluster else "")
    return {
        "settings": store.acknowledged_insert_settings(),
        "spans": store.scalar(f"SELECT count() FROM {local}"),
        "distinct spans": store.scalar(f"SELECT uniqExact(TraceId, SpanId) FROM {local}"),
    }
