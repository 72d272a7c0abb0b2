"""Incremental runs on arrival time: late spans change the affected KPIs on the next run, only the
touched orders are recomputed, and re-running a range or everything changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clock import ANCHOR
from kpi_spans import hop, order_flow, write
from support.spans import COLUMNS

from kpis import explain, reports
from kpis import jobs as kpi_jobs
from kpis import state as kpi_state
from kpis.jobs import JOB_NAMES, KpiEngine
from kpis.policy import load_policy
from storage import Store

POLICY = load_policy()
DAY0 = (ANCHOR - timedelta(days=3)).replace(hour=14)  # a Sunday afternoon, whatever the week
PERIOD = ((DAY0 - timedelta(days=2)).date(), (DAY0 + timedelta(days=3)).date())


def _engine(store: Store) -> KpiEngine:
    return KpiEngine(store, POLICY, overlap=timedelta(0))


def _snapshot(store: Store) -> dict[str, Any]:
    now = DAY0 + timedelta(days=2)
    facts = store.rows("SELECT * EXCEPT (UpdatedAt, Version) FROM order_facts FINAL ORDER BY OrderId")
    return {
        "report": reports.kpi_report(store, POLICY, *PERIOD).model_dump(),
        "breaches": [b.model_dump() for b in reports.sla_breaches(store, POLICY, now=now)],
        "exceptions": reports.exceptions_queue(store, POLICY, status="", now=now).model_dump(),
        "facts": facts,
        "handoffs": reports.handoff_map(store, DAY0 - timedelta(days=2), DAY0 + timedelta(days=3)),
    }


def _three_orders(store: Store) -> None:
    write(store, [s for i in range(3) for s in order_flow(f"SO-{i}", DAY0 + timedelta(minutes=i))])


def _during_sla_results(monkeypatch: pytest.MonkeyPatch, engine: KpiEngine, action: Any) -> None:
    """``action()`` runs in the sla_results job, before its query: after order_facts has committed
    and while the jobs of the run still read it."""
    original = engine._jobs["sla_results"]

    def job(window: Any, version: int) -> tuple[int, datetime | None]:
        action()
        return original(window, version)

    monkeypatch.setitem(engine._jobs, "sla_results", job)


def test_late_manual_touch_changes_touchless_rate_on_next_run(store: Store) -> None:
    engine = _engine(store)
    _three_orders(store)
    assert {r.status for r in engine.run_all()} == {"ok"}
    assert reports.kpi_report(store, POLICY, *PERIOD).value("touchless_rate").value == 1.0

    # a span from two days ago arrives now: a credit analyst touched SO-1
    late = hop("SO-1", "credit", DAY0 + timedelta(minutes=20), attrs={"enduser.id": "carol"})
    write(store, [late])
    results = {r.job: r for r in engine.run_all()}
    assert results["order_facts"].rows == 1  # only the touched order was recomputed
    touchless = reports.kpi_report(store, POLICY, *PERIOD).value("touchless_rate")
    assert (touchless.numerator, touchless.denominator) == (2, 3)
    why = explain.explain(store, POLICY, "touchless_rate", *PERIOD)
    assert [(o.order_id, o.reason) for o in why.orders] == [
        ("SO-1", "manual touch at stage credit on erp-east by carol")
    ]
    runs = reports.job_runs(store, "order_facts")
    assert [r.rows for r in runs[:2]] == [1, 3]
    assert runs[0].watermark_from is not None and runs[0].watermark_to > runs[0].watermark_from


def test_late_capture_span_moves_the_clock_and_creates_a_breach(store: Store) -> None:
    engine = _engine(store)
    spans = order_flow("SO-9", DAY0, gap_s=600)
    write(store, spans[1:])  # capture span not sent yet
    engine.run_all()
    assert reports.sla_breaches(store, POLICY, sla="capture_to_ship", now=ANCHOR) == []
    day = DAY0.date()
    assert reports.kpi_report(store, POLICY, day, day + timedelta(days=1)).value("orders").value == 1
    # the web shop's capture span arrives late: the order was captured three days earlier
    capture = hop("SO-9", "capture", DAY0 - timedelta(days=3), attrs={"order.channel": "ecommerce"})
    write(store, [capture])
    engine.run_all()
    breaches = reports.sla_breaches(store, POLICY, sla="capture_to_ship", now=ANCHOR)
    assert [(b.order_id, b.status, b.open) for b in breaches] == [("SO-9", "breached", False)]
    assert breaches[0].elapsed_s > breaches[0].target_s == 48 * 3600
    facts = reports.order_facts(store, "SO-9")
    assert facts is not None and facts["CaptureAt"] == capture.start.replace(tzinfo=None)
    # the order moved to its real capture day in the daily rollups, and left the old one
    assert reports.kpi_report(store, POLICY, day, day + timedelta(days=1)).value("orders").value == 0
    early = (DAY0 - timedelta(days=3)).date()
    assert reports.kpi_report(store, POLICY, early, early + timedelta(days=1)).value("orders").value == 1


def test_rerunning_a_range_or_everything_changes_nothing(store: Store) -> None:
    engine = _engine(store)
    spans = [s for i in range(6) for s in order_flow(f"SO-{i}", DAY0 + timedelta(hours=i), gap_s=3600 * i)]
    spans += order_flow("SO-open", DAY0, stages=["capture", "validation", "credit"])
    spans.append(
        hop(
            "SO-2",
            "credit",
            DAY0 + timedelta(hours=2, minutes=5),
            attrs={"order.exception.type": "credit_hold", "order.exception.outcome": "opened"},
        )
    )
    write(store, spans)
    engine.run_all()
    write(store, [hop("SO-3", "pick", DAY0 + timedelta(hours=5), attrs={"enduser.id": "dan"})])
    engine.run_all()
    before = _snapshot(store)
    assert before["report"]["values"][0]["value"] == 7
    assert {r.status for r in engine.recompute(DAY0 - timedelta(days=1), DAY0 + timedelta(days=2))} == {"ok"}
    assert _snapshot(store) == before
    assert {r.status for r in engine.recompute()} == {"ok"}
    assert _snapshot(store) == before
    assert {r.status for r in engine.run_all()} == {"ok"}
    assert _snapshot(store) == before


def test_system_daily_counts_hops_errors_and_latency(store: Store) -> None:
    spans = order_flow("SO-1", DAY0, duration_s=100) + order_flow("SO-2", DAY0, duration_s=300)
    spans.append(hop("SO-2", "pick", DAY0 + timedelta(hours=1), 500, status="Error"))
    write(store, spans)
    _engine(store).run_all()
    wms = [d for d in reports.system_daily(store, *PERIOD) if d.system == "wms-dallas"]
    assert [(d.hops, d.orders, d.errors, d.latency_p50_s) for d in wms] == [(7, 2, 1, 300.0)]
    # latencies 100 x3, 300 x3, 500: p95 interpolates between 300 and 500
    assert wms[0].latency_p95_s == pytest.approx(440.0)
    assert wms[0].error_rate == pytest.approx(1 / 7)


def test_late_span_naming_the_order_only_by_tracking_number_is_attributed(store: Store) -> None:
    engine = _engine(store)
    spans = order_flow("SO-5", DAY0, stages=["capture", "validation", "pick", "pack", "ship"])
    spans[-1].attributes["shipment.tracking_number"] = '["1Z999", "1Z998"]'
    write(store, spans)
    engine.run_all()
    assert reports.order_facts(store, "SO-5")["DeliverAt"] is None  # type: ignore[index]
    # the carrier webhook knows only a tracking number (and a weak EDI key, not followed)
    delivery = hop("SO-X", "deliver", DAY0 + timedelta(days=1), attrs={"shipment.tracking_number": "1Z998"})
    del delivery.attributes["order.id"]
    noise = hop(
        "SO-Y", "deliver", DAY0 + timedelta(days=1), attrs={"edi.interchange_control_number": "000000001"}
    )
    del noise.attributes["order.id"]
    write(store, [delivery, noise])
    results = {r.job: r.rows for r in engine.run_all()}
    assert results["order_facts"] == 1
    facts = reports.order_facts(store, "SO-5")
    assert facts is not None
    assert facts["DeliverAt"] == (delivery.start + timedelta(seconds=60)).replace(tzinfo=None)
    assert (facts["HopCount"], facts["CurrentStage"], facts["CurrentSystem"]) == (6, "deliver", "carrier-ups")


def test_a_late_hop_widens_its_stage_s_duration_in_the_order_s_facts(store: Store) -> None:
    engine = _engine(store)
    write(store, order_flow("SO-7", DAY0, stages=["capture", "credit", "ship"], gap_s=600, duration_s=300))
    engine.run_all()
    facts = reports.order_facts(store, "SO-7")
    assert facts is not None
    assert facts["StageDurationS"] == {"capture": 300.0, "credit": 300.0, "ship": 300.0}
    # a second credit review, an hour after the first one started and 90 s long, arrives late
    write(store, [hop("SO-7", "credit", DAY0 + timedelta(seconds=900 + 3600), duration_s=90)])
    engine.run_all()
    facts = reports.order_facts(store, "SO-7")
    assert facts is not None
    assert facts["StageDurationS"] == {"capture": 300.0, "credit": 3690.0, "ship": 300.0}
    assert (
        facts["StageDurationS"]["credit"]
        == (facts["StageEnd"]["credit"] - facts["StageStart"]["credit"]).total_seconds()
    )


def test_a_run_with_nothing_new_reads_nothing_and_a_new_span_wakes_the_chain(store: Store) -> None:
    engine = _engine(store)
    write(store, order_flow("SO-1", DAY0))
    assert {r.mode for r in engine.run_all()} == {"incremental"}
    before = _snapshot(store)
    idle = engine.run_all()
    assert [(r.job, r.mode, r.status, r.rows) for r in idle] == [(j, "idle", "ok", 0) for j in JOB_NAMES]
    assert reports.job_runs(store, "kpi_daily")[0].mode == "idle"  # recorded, visible on /jobs
    assert _snapshot(store) == before
    # a late manual touch arrives: the next run is a real one and sees it
    write(store, [hop("SO-1", "credit", DAY0 + timedelta(minutes=20), attrs={"enduser.id": "erin"})])
    results = {r.job: r for r in engine.run_all()}
    assert {r.mode for r in results.values()} == {"incremental"}
    assert results["order_facts"].rows == 1
    assert reports.kpi_report(store, POLICY, *PERIOD).value("touchless_rate").value == 0.0
    # so does an action a person took on an exception (nothing new in the spans)
    assert {r.mode for r in engine.run_all()} == {"idle"}
    store.insert(
        "exception_actions",
        [
            [
                uuid.uuid4(),
                "SO-1",
                "credit_hold",
                "comment",
                "erin",
                "",
                "called the customer",
                datetime.now(UTC),
            ]
        ],
        ["ActionId", "OrderId", "ExceptionType", "Action", "Actor", "Owner", "Note", "At"],
    )
    assert {r.mode for r in engine.run_all()} == {"incremental"}


def test_state_rebuilt_from_order_spans_gives_the_same_figures(store: Store) -> None:
    """kpis.state.rebuild (tower migrate, for spans stored before migrations 0080/0082) fills
    order_rollup and system_hops as the views did; running it twice changes nothing (idempotent)."""
    engine = _engine(store)
    spans = [s for i in range(4) for s in order_flow(f"SO-{i}", DAY0 + timedelta(hours=i), gap_s=1800 * i)]
    spans.append(
        hop("SO-2", "pick", DAY0 + timedelta(hours=3), 500, status="Error", attrs={"enduser.id": "al"})
    )
    write(store, spans)
    engine.run_all()
    before = _snapshot(store)
    daily = reports.system_daily(store, *PERIOD)
    for table in ("order_rollup", "system_hops"):
        store.command(f"TRUNCATE TABLE {store.ident(table)}")
    # the facts come from the rollup, not from the spans: without it a full recompute finds no order
    assert {r.job: r.rows for r in engine.recompute()}["order_facts"] == 0
    assert kpi_state.rebuild(store) == store.scalar("SELECT count() FROM order_spans") > 0
    assert kpi_state.rebuild(store) > 0
    engine.recompute()
    assert _snapshot(store) == before
    assert reports.system_daily(store, *PERIOD) == daily


def test_an_order_s_facts_are_the_same_whether_its_spans_arrive_together_or_apart(store: Store) -> None:
    """order_rollup gets a row per span (migration 0091): an order's rows from one insert merge
    like rows from several, and a one-span order read unmerged counts an exception type once even
    when the span and its events repeat it."""
    engine = _engine(store)
    # rows as the collector's view writes them (no merging pass on insert), before any merge
    # collapses them: the job reads an order's single row as it is
    store.command(f"SYSTEM STOP MERGES {store.ident('order_rollup')}")

    def collector_write(spans: list[Any]) -> None:
        store.insert("otel_traces", [s.row() for s in spans], COLUMNS, settings={"optimize_on_insert": 0})

    def spans(order: str) -> list[Any]:
        pricing = hop(
            order, "pricing", DAY0 + timedelta(hours=1), 60, attrs={"order.exception.type": "pricing"}
        )
        pricing.events = [
            (DAY0 + timedelta(hours=1, seconds=10), "exception", {"order.exception.type": "pricing"}),
            (
                DAY0 + timedelta(hours=1, seconds=20),
                "exception",
                {"order.exception.type": "pricing", "order.exception.outcome": "resolved"},
            ),
        ]
        touched = hop(
            order, "credit", DAY0 + timedelta(minutes=30), 60, status="Error", attrs={"enduser.id": "al"}
        )
        return [*order_flow(order, DAY0), pricing, touched]

    collector_write(spans("SO-TOGETHER"))
    for span in spans("SO-APART"):
        collector_write([span])
    collector_write(spans("SO-SOLO")[-2:-1])
    assert store.scalar("SELECT count() FROM order_rollup WHERE OrderId = 'SO-TOGETHER'") > 1
    engine.run_all()
    store.command(f"SYSTEM START MERGES {store.ident('order_rollup')}")
    facts = {
        row["OrderId"]: row
        for row in store.rows("SELECT * EXCEPT (UpdatedAt, Version) FROM order_facts FINAL ORDER BY OrderId")
    }
    together, apart = facts.pop("SO-TOGETHER"), facts.pop("SO-APART")
    assert (together["HopCount"], together["ErrorCount"], together["ManualTouchCount"]) == (
        len(spans("SO-X")),
        1,
        1,
    )
    assert {**together, "OrderId": ""} == {**apart, "OrderId": ""}
    assert (facts["SO-SOLO"]["ExceptionTypes"], facts["SO-SOLO"]["ExceptionCount"]) == (["pricing"], 1)


def test_a_failing_job_keeps_its_watermark_and_catches_up_on_the_next_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(store)
    write(store, order_flow("SO-1", DAY0))
    engine.run_all()
    marks = engine.watermarks()
    write(store, [hop("SO-1", "credit", DAY0 + timedelta(minutes=20), attrs={"enduser.id": "erin"})])

    def refused(window: object, version: int) -> tuple[int, datetime]:
        raise RuntimeError("the store refused the insert")

    # the SLA evaluation fails once: the jobs after it in the chain still run, it keeps its watermark
    monkeypatch.setitem(engine._jobs, "sla_results", refused)
    results = {r.job: r for r in engine.run_all()}
    assert (results["sla_results"].status, results["sla_results"].error) == (
        "error",
        "RuntimeError: the store refused the insert",
    )
    assert {job: r.status for job, r in results.items() if job != "sla_results"} == dict.fromkeys(
        [j for j in JOB_NAMES if j != "sla_results"], "ok"
    )
    assert results["kpi_daily"].rows > 0
    assert reports.job_runs(store, "sla_results")[0].status == "error"  # visible on /jobs
    moved = engine.watermarks()
    assert moved["sla_results"] == marks["sla_results"]
    assert all(moved[j] > marks[j] for j in JOB_NAMES if j != "sla_results")
    monkeypatch.undo()

    # the next run picks up what the failed one missed: the same figures as a full recompute
    assert {r.job: r.status for r in engine.run_all()} == dict.fromkeys(JOB_NAMES, "ok")
    assert engine.watermarks()["sla_results"] > marks["sla_results"]
    caught_up = _snapshot(store)
    engine.recompute()
    assert _snapshot(store) == caught_up


def _with_target(policy: Any, sla: str, target_s: float) -> Any:
    slas = [s.model_copy(update={"target": target_s}) if s.name == sla else s for s in policy.slas]
    return policy.model_copy(update={"slas": slas})


def test_orders_settled_under_one_policy_are_evaluated_again_under_a_stricter_one(store: Store) -> None:
    # a complete order within every target (no SLA open): order entry (capture end -> validation
    # end) took 15 minutes, within 2 h
    write(store, order_flow("SO-1", DAY0, gap_s=600))
    _engine(store).run_all()
    assert reports.sla_breaches(store, POLICY, sla="order_entry", now=ANCHOR) == []
    # the policy now holds order entry to 10 minutes: re-running the SLA job alone (the facts were
    # computed under the old targets) shows the breach
    strict = _with_target(POLICY, "order_entry", 600.0)
    assert {
        r.status for r in KpiEngine(store, strict, overlap=timedelta(0)).recompute(jobs=["sla_results"])
    } == {"ok"}
    breaches = reports.sla_breaches(store, strict, sla="order_entry", now=ANCHOR)
    assert [(b.order_id, b.status, b.elapsed_s) for b in breaches] == [("SO-1", "breached", 900.0)]


def test_an_order_held_to_a_smaller_override_target_is_evaluated(store: Store) -> None:
    # complete orders (no SLA open) with 90 minutes of order entry: within order_entry's 2 h, beyond
    # the 1 h it holds EDI orders to; every other SLA met
    for order, channel in (("SO-WEB", "ecommerce"), ("SO-EDI", "edi")):
        write(store, order_flow(order, DAY0, gap_s=5100, segment={"order.channel": channel}))
    _engine(store).run_all()
    breaches = reports.sla_breaches(store, POLICY, now=ANCHOR)
    assert [(b.order_id, b.sla, b.status, b.elapsed_s, b.target_s) for b in breaches] == [
        ("SO-EDI", "order_entry", "breached", 5400.0, 3600.0)
    ]


def test_a_hop_lasting_centuries_is_a_breach_not_a_settled_order(store: Store) -> None:
    # a WMS with a broken clock reports the ship hop of SO-LONG ending two centuries from now (its
    # duration); SO-OK is the same order with sane spans: the SLA check of order_facts must send
    # SO-LONG to sla_results rather than find it settled, and the breaches show it at once
    years_s = 200 * 365 * 86400.0
    write(store, order_flow("SO-OK", DAY0, gap_s=600))
    spans = order_flow("SO-LONG", DAY0, gap_s=600)
    ship = next(i for i, s in enumerate(spans) if s.attributes["order.stage"] == "ship")
    broken = hop("SO-LONG", "ship", spans[ship].start, duration_s=years_s)
    broken.attributes.update({k: v for k, v in spans[ship].attributes.items() if k != "order.stage"})
    spans[ship] = broken
    write(store, spans)
    _engine(store).run_all()
    breaches = reports.sla_breaches(store, POLICY, now=ANCHOR)
    assert sorted((b.order_id, b.sla, b.status) for b in breaches) == [
        ("SO-LONG", "capture_to_ship", "breached"),
        ("SO-LONG", "release_to_ship", "breached"),
    ]


def test_order_facts_merges_again_after_a_full_recompute_even_one_cut_short(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full recompute holds merges of order_facts while its jobs run (kpis/jobs.py merges_held):
    afterwards, finished or not, the facts' parts merge again; never left unmerged for good."""
    engine = _engine(store)
    _three_orders(store)
    facts = store.ident("order_facts")
    held: list[str] = []

    def merge_facts() -> None:
        # the facts job has written its part: merging them now is refused (merges are held)
        try:
            store.command(f"OPTIMIZE TABLE {facts} FINAL")
        except Exception as exc:
            held.append(str(exc))

    _during_sla_results(monkeypatch, engine, merge_facts)
    engine.recompute()
    assert len(held) == 1 and "Cancelled merging parts" in held[0]
    monkeypatch.undo()

    def cut_short(*args: object) -> object:
        raise RuntimeError("the process was told to stop")

    engine.recompute()  # a second version of every fact, in a second part
    monkeypatch.setattr(engine, "_graph", cut_short)
    with pytest.raises(RuntimeError, match="told to stop"):
        engine.recompute()
    monkeypatch.undo()
    # merges run again: the two versions of each fact merge into one part
    store.command(f"OPTIMIZE TABLE {facts} FINAL")
    parts = (
        "SELECT count() FROM system.parts"
        " WHERE active AND database = currentDatabase() AND table = 'order_facts'"
    )
    assert store.scalar(parts) == 1
    assert store.scalar("SELECT count() FROM order_facts") == 3


def test_a_full_recompute_too_big_to_hold_merges_merges_as_it_goes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above HOLD_MERGES_MAX_ORDERS orders the parts of a full recompute would pile up towards the
    engine's parts limits: order_facts merges while the jobs run, as without the hold."""
    engine = _engine(store)
    _three_orders(store)
    monkeypatch.setattr(kpi_jobs, "HOLD_MERGES_MAX_ORDERS", 2)  # three orders are too many
    merged: list[int] = []

    def merge_facts() -> None:
        store.command(f"OPTIMIZE TABLE {store.ident('order_facts')} FINAL")  # not refused
        merged.append(1)

    _during_sla_results(monkeypatch, engine, merge_facts)
    assert {r.job: r.status for r in engine.recompute()} == dict.fromkeys(JOB_NAMES, "ok")
    assert merged == [1]


def test_a_full_recompute_runs_when_the_store_refuses_to_hold_merges(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holding merges is an optimization: a store that refuses it (a user without the SYSTEM
    privilege) still gets every figure."""
    engine = _engine(store)
    _three_orders(store)
    command = store.command

    def refusing(sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith("SYSTEM STOP MERGES"):
            raise RuntimeError("Not enough privileges")
        return command(sql, *args, **kwargs)

    monkeypatch.setattr(store, "command", refusing)
    assert {r.job: r.status for r in engine.recompute()} == dict.fromkeys(JOB_NAMES, "ok")
    assert reports.kpi_report(store, POLICY, *PERIOD).value("orders").value == 3


def test_a_full_recompute_written_block_by_block_gives_the_facts_of_an_incremental_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full recompute writes each block of facts as it is read, as a part of its own, instead of
    squashing them (kpi_jobs.FULL_SETTINGS; blocks of two orders here, not ~64k, and none squashed):
    nine orders, two of them with rollup rows from two inserts, still get one fact each, the same
    facts and figures as an incremental run that squashed them into one part."""
    engine = _engine(store)
    spans = [s for i in range(9) for s in order_flow(f"SO-{i}", DAY0 + timedelta(minutes=i))]
    write(store, spans[:-15])
    write(store, spans[-15:])  # the last order's spans and some of the one before it
    engine.run_all()
    before = _snapshot(store)
    assert len(before["facts"]) == 9
    small = kpi_jobs.FULL_SETTINGS["order_facts"] + ", max_block_size = 2, min_insert_block_size_bytes = 1"
    monkeypatch.setitem(kpi_jobs.FULL_SETTINGS, "order_facts", small)
    parts: list[int] = []
    count = "SELECT uniqExact(_part) FROM order_facts WHERE Version = (SELECT max(Version) FROM order_facts)"
    _during_sla_results(monkeypatch, engine, lambda: parts.append(int(store.scalar(count))))
    results = {r.job: r for r in engine.recompute()}
    assert parts[0] >= 3  # written as read (merges are held until the run is done)
    assert results["order_facts"].rows == 9
    assert _snapshot(store) == before


def test_with_setting_replaces_a_setting_the_clause_names_and_adds_the_others() -> None:
    sql = (
        "INSERT INTO t SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)\nSETTINGS a = 1, b = 2,\n   c = 3\n"
    )
    changed = kpi_jobs.with_setting(sql, "b = 20, d = 4")
    assert changed.endswith("SETTINGS b = 20, d = 4, a = 1, c = 3\n")
    assert "(SELECT 1 SETTINGS max_threads = 1)" in changed
    # a query whose only SETTINGS is inside a subquery gets a clause of its own
    inner = "SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)"
    assert kpi_jobs.with_setting(inner, "a = 1") == inner + "\nSETTINGS a = 1"
