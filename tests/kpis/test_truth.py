"""Truth of the numbers: on a simulator run, every KPI and SLA count equals an independent pandas
recomputation over the raw spans exported from ClickHouse (exact counts, percentiles to rounding).

The spans reach the store as at-least-once senders deliver them: a fifth arrive late (after the
jobs already ran incrementally), and one in twenty is sent twice. The business calendars have two
holidays inside the simulated days. The figures are those of the incremental runs, and a full
recompute afterwards changes none of them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import kpi_truth as truth
import pandas as pd
import pytest
from clock import ANCHOR

from kpis import explain, reports
from kpis.jobs import KpiEngine
from kpis.policy import Policy, load_policy
from storage import Store
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store
from tracing.timeline import order_timeline

END = ANCHOR  # a fixed point of the working week (tests/clock.py)
Computed = tuple[Store, pd.DataFrame, pd.DataFrame]


# two working days of the simulated period are holidays of both business calendars
HOLIDAYS = [(END - timedelta(days=1)).date(), (END - timedelta(days=7)).date()]


@pytest.fixture(scope="module")
def policy() -> Policy:
    shipped = load_policy()
    calendars = {
        name: cal.model_copy(update={"holidays": [*cal.holidays, *HOLIDAYS]})
        for name, cal in shipped.calendars.items()
    }
    return shipped.model_copy(update={"calendars": calendars})


def _snapshot(store: Store, policy: Policy) -> dict[str, Any]:
    return {
        "report": reports.kpi_report(store, policy, *_period()).model_dump(),
        "breaches": sorted(
            (
                b.model_dump()
                for b in reports.sla_breaches(store, policy, limit=100_000, now=END + timedelta(days=30))
            ),
            key=lambda b: (b["order_id"], b["sla"]),
        ),
        "facts": store.rows("SELECT * EXCEPT (UpdatedAt, Version) FROM order_facts FINAL ORDER BY OrderId"),
    }


def _spans() -> list[Any]:
    return list(Simulator(SimulatorConfig(orders=400, days=10, end=END, seed=11)).generate())


@pytest.fixture(scope="module")
def computed(module_store: Store, policy: Policy) -> Computed:
    spans = _spans()
    on_time = [s for i, s in enumerate(spans) if i % 5 != 2]
    late = [s for i, s in enumerate(spans) if i % 5 == 2]
    resent = spans[::20]
    engine = KpiEngine(module_store, policy)
    write_to_store(module_store, on_time)
    first = engine.run_all()
    assert [r.status for r in first] == ["ok"] * len(first), [r.error for r in first]
    write_to_store(module_store, late + resent)
    results = engine.run_all()
    assert [r.status for r in results] == ["ok"] * len(results), [r.error for r in results]
    assert {r.mode for r in results} == {"incremental"}
    incremental = _snapshot(module_store, policy)
    full = engine.recompute()
    assert [r.status for r in full] == ["ok"] * len(full), [r.error for r in full]
    assert _snapshot(module_store, policy) == incremental
    raw = truth.raw_spans(module_store)
    return module_store, truth.orders_table(raw, policy), truth.exceptions_table(raw, policy)


def _period() -> tuple[date, date]:
    return (END - timedelta(days=12)).date(), (END + timedelta(days=10)).date()


def test_order_counts_rates_and_percentiles_match_pandas(computed: Computed, policy: Policy) -> None:
    store, orders, _ = computed
    report = reports.kpi_report(store, policy, *_period())
    v = {x.name: x for x in report.values}
    assert v["orders"].value == len(orders)
    assert len(orders) > 300
    assert v["touchless_rate"].numerator == int((~orders.touched).sum())
    assert v["touchless_rate"].denominator == len(orders)
    assert v["perfect_order_rate"].denominator == int(orders.closed.sum())
    assert v["perfect_order_rate"].numerator == int(orders.perfect.sum())
    assert 0 < (v["perfect_order_rate"].value or 0) < 1
    assert v["allocation_accuracy"].denominator == int((orders.allocations > 0).sum())
    assert v["allocation_accuracy"].numerator == int(((orders.allocations > 0) & orders.allocation_ok).sum())
    for q in (0.5, 0.9, 0.95):
        assert v[f"cycle_time_p{int(q * 100)}"].value == pytest.approx(
            truth.percentile(orders.cycle, q), abs=0.01
        )
    assert v["invoice_latency_p50"].value == pytest.approx(
        truth.percentile(orders.invoice_latency, 0.5), abs=0.01
    )
    assert v["invoice_latency_mean"].value == pytest.approx(orders.invoice_latency.dropna().mean(), abs=0.01)


def test_exception_volume_and_resolution_match_pandas(computed: Computed, policy: Policy) -> None:
    store, _, exceptions = computed
    report = reports.kpi_report(store, policy, *_period())
    v = {x.name: x for x in report.values}
    assert v["exception_volume"].value == len(exceptions) > 10
    resolved = exceptions.resolution.dropna()
    assert v["exception_resolution_mean"].denominator == len(resolved)
    assert v["exception_resolution_mean"].value == pytest.approx(resolved.mean(), abs=0.01)
    assert v["exception_resolution_p90"].value == pytest.approx(truth.percentile(resolved, 0.9), abs=0.01)
    queue = reports.exceptions_queue(store, policy, status="", limit=10_000)
    assert len(queue.items) == len(exceptions)
    assert sum(b.open_exceptions for b in queue.aging) == int(exceptions.resolution.isna().sum())


def test_sla_attainment_and_breaches_match_pandas(computed: Computed, policy: Policy) -> None:
    store, orders, _ = computed
    report = reports.kpi_report(store, policy, *_period())
    breaches = reports.sla_breaches(store, policy, limit=100_000, now=END + timedelta(days=30))
    for att in report.sla:
        column = orders[f"sla_{att.sla}"].dropna()
        assert (att.sla, att.evaluated, att.met) == (att.sla, len(column), int(column.sum()))
        late = {b.order_id for b in breaches if b.sla == att.sla and not b.open}
        assert late == set(orders[orders[f"sla_{att.sla}"] == False].order)  # noqa: E712
    assert any(a.met < a.evaluated for a in report.sla)


def test_segment_filter_matches_pandas(computed: Computed, policy: Policy) -> None:
    store, orders, _ = computed
    edi = orders[orders.channel == "edi"]
    report = reports.kpi_report(store, policy, *_period(), segment=reports.Segment(channel="edi"))
    assert report.value("orders").value == len(edi) > 0
    assert report.value("touchless_rate").numerator == int((~edi.touched).sum())
    by_erp = orders.groupby("erp").size().to_dict()
    for erp, count in by_erp.items():
        got = reports.kpi_report(store, policy, *_period(), segment=reports.Segment(erp_instance=erp))
        assert got.value("orders").value == count


def test_explain_lists_exactly_the_orders_behind_the_value(computed: Computed, policy: Policy) -> None:
    store, orders, _ = computed
    touched = explain.explain(store, policy, "touchless_rate", *_period(), limit=10_000)
    assert {o.order_id for o in touched.orders} == set(orders[orders.touched].order)
    assert all(o.reason.startswith("manual touch at stage ") for o in touched.orders)
    imperfect = explain.explain(store, policy, "perfect_order_rate", *_period(), limit=10_000)
    assert {o.order_id for o in imperfect.orders} == set(orders[orders.closed & ~orders.perfect].order)
    assert (imperfect.denominator or 0) - (imperfect.numerator or 0) == len(imperfect.orders)
    sla = explain.explain(store, policy, "sla:release_to_ship", *_period(), limit=10_000)
    assert {o.order_id for o in sla.orders} == set(orders[orders.sla_release_to_ship == False].order)  # noqa: E712
    assert all("release_to_ship took" in o.reason and "business time" in o.reason for o in sla.orders)


def test_facts_agree_with_the_order_timeline(computed: Computed) -> None:
    """Same attributed spans and hop model as tracing.timeline: hops, handoff waiting and manual
    touches per order — EDI orders included (their file, batch and 997 spans are theirs in both)."""
    store, _orders, _ = computed
    sql = (
        "SELECT OrderId, HopCount, HandoffTotalS, ManualTouchCount FROM order_facts FINAL "
        "WHERE (Channel = 'edi') = {edi:UInt8} ORDER BY OrderId LIMIT 40"
    )
    facts = store.rows(sql, {"edi": 1}) + store.rows(sql, {"edi": 0})
    assert len(facts) == 80
    for f in facts:
        timeline = order_timeline(store, f["OrderId"])
        assert len(timeline.hops) == f["HopCount"], f["OrderId"]
        # facts keep millisecond times: each gap may differ by under 2 ms
        assert timeline.waiting_ns / 1e9 == pytest.approx(f["HandoffTotalS"], abs=0.002 * f["HopCount"]), f[
            "OrderId"
        ]
        assert len(timeline.manual_touches) == f["ManualTouchCount"], f["OrderId"]


def test_the_figures_are_the_same_where_ctes_cannot_be_materialized(
    computed: Computed, store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ClickHouse server older than 26.3 has no materialized CTEs (and a cluster does not use
    them): the jobs then send their queries with every CTE inlined, never the ``AS MATERIALIZED``
    such a server refuses as a syntax error, and the same spans arriving the same way (late and
    re-sent ones included) give the figures the materialized queries gave."""
    materialized, _, _ = computed
    assert KpiEngine(materialized, policy).materializes_ctes()  # the embedded engine has them
    sent: list[str] = []
    command = store.command

    def recording(sql: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(sql)
        return command(sql, *args, **kwargs)

    monkeypatch.setattr(store, "knows_setting", lambda name: False)
    monkeypatch.setattr(store, "command", recording)
    engine = KpiEngine(store, policy)
    spans = _spans()
    write_to_store(store, [s for i, s in enumerate(spans) if i % 5 != 2])
    engine.run_all()
    write_to_store(store, [s for i, s in enumerate(spans) if i % 5 == 2] + spans[::20])
    results = engine.run_all()
    assert [r.status for r in results] == ["ok"] * len(results), [r.error for r in results]
    jobs = [sql for sql in sent if "INSERT INTO order_facts" in sql or "INSERT INTO sla_results" in sql]
    assert len(jobs) == 4 and not any("AS MATERIALIZED (" in sql for sql in sent)
    assert _snapshot(store, policy) == _snapshot(materialized, policy)
