"""Exceptions from spans and span events, aging buckets, and people's assign/comment/resolve with an
audit trail; bad requests are refused clearly and change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from clock import ANCHOR
from kpi_spans import hop, order_flow, write
from support.spans import SpanRow, trace_id

from kpis import reports
from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store

POLICY = load_policy()
NOW = ANCHOR  # the queue, the aging and people's actions are all judged at this moment


def _exception(  # type: ignore[no-untyped-def]
    order: str,
    kind: str,
    outcome: str,
    at: datetime,
    stage: str = "credit",
    system: str | None = None,
    **extra: str,
):
    return hop(
        order,
        stage,
        at,
        60,
        system=system,
        attrs={"order.exception.type": kind, "order.exception.outcome": outcome, **extra},
    )


def _engine(store: Store) -> KpiEngine:
    return KpiEngine(store, POLICY, overlap=timedelta(0))


def test_exceptions_from_spans_and_events_with_resolution_and_aging(store: Store) -> None:
    spans = []
    for i, age_h in enumerate([1, 10, 30, 100]):
        spans += order_flow(f"SO-{i}", NOW - timedelta(hours=age_h + 1), stages=["capture", "validation"])
        spans.append(_exception(f"SO-{i}", "credit_hold", "opened", NOW - timedelta(hours=age_h)))
    # a pricing exception opened and resolved as events on one span
    carrier = hop("SO-0", "pricing", NOW - timedelta(minutes=50), 60)
    carrier.events = [
        (
            NOW - timedelta(minutes=50),
            "exception",
            {"order.exception.type": "pricing", "order.exception.outcome": "opened"},
        ),
        (
            NOW - timedelta(minutes=20),
            "exception",
            {"order.exception.type": "pricing", "order.exception.outcome": "resolved"},
        ),
    ]
    spans.append(carrier)
    write(store, spans)
    _engine(store).run_all()
    queue = reports.exceptions_queue(store, POLICY, status="", now=NOW)
    found = {(e.order_id, e.exception_type): e for e in queue.items}
    assert len(found) == 5
    pricing = found[("SO-0", "pricing")]
    assert (pricing.status, pricing.resolution_s, pricing.system) == ("resolved", 1800.0, "erp-east")
    assert [(b.label, b.open_exceptions) for b in queue.aging] == [
        ("<4h", 1),
        ("4h-1d", 1),
        ("1d-3d", 1),
        (">3d", 1),
    ]
    assert [e.order_id for e in reports.exceptions_queue(store, POLICY, now=NOW).items] == [
        "SO-3",
        "SO-2",
        "SO-1",
        "SO-0",
    ]
    # paging: LIMIT/OFFSET in the SQL, the total counts every match, past the end is empty but counted
    pages = [reports.exceptions_queue(store, POLICY, now=NOW, limit=3, offset=o) for o in (0, 3, 6)]
    assert [[e.order_id for e in p.items] for p in pages] == [["SO-3", "SO-2", "SO-1"], ["SO-0"], []]
    assert [p.total for p in pages] == [4, 4, 4]
    assert reports.exceptions_queue(store, POLICY, status="resolved", now=NOW, offset=5).total == 1
    report = reports.kpi_report(
        store, POLICY, (NOW - timedelta(days=6)).date(), (NOW + timedelta(days=1)).date()
    )
    assert report.value("exception_volume").value == 5
    assert report.value("exception_resolution_mean").value == 1800.0


def test_assign_comment_resolve_keep_an_audit_trail(store: Store) -> None:
    engine = _engine(store)
    write(
        store,
        [
            *order_flow("SO-7", NOW - timedelta(hours=3), stages=["capture"]),
            _exception("SO-7", "credit_hold", "opened", NOW - timedelta(hours=2)),
        ],
    )
    engine.run_all()
    hostile = "<script>alert(1)</script>'; DROP TABLE order_exceptions; -- ünïcødé"
    assert (
        reports.assign(
            engine, "SO-7", "credit_hold", "alice", actor="bob", now=NOW - timedelta(minutes=20)
        ).owner
        == "alice"
    )
    assert (
        reports.comment(
            engine, "SO-7", "credit_hold", hostile, actor="alice", now=NOW - timedelta(minutes=10)
        ).comments
        == 1
    )
    resolved = reports.resolve(engine, "SO-7", "credit_hold", actor="alice", note="limit raised", now=NOW)
    assert (resolved.status, resolved.resolved_by, resolved.owner) == ("resolved", "alice", "alice")
    assert resolved.resolution_s == 2 * 3600  # opened two hours before the person resolved it
    trail = reports.exception_history(store, "SO-7", "credit_hold")
    assert [(a.action, a.actor, a.owner, a.note) for a in trail] == [
        ("assign", "bob", "alice", ""),
        ("comment", "alice", "", hostile),
        ("resolve", "alice", "", "limit raised"),
    ]
    # the queue shows it resolved, and the next scheduled run keeps it that way
    engine.run_all()
    assert reports.exceptions_queue(store, POLICY, status="open", now=NOW).items == []
    # the system reports the hold again later: it reopens
    write(store, [_exception("SO-7", "credit_hold", "opened", NOW + timedelta(seconds=1))])
    engine.run_all()
    again = reports.exceptions_queue(store, POLICY, status="open", now=NOW + timedelta(minutes=5)).items
    assert [(e.order_id, e.owner) for e in again] == [("SO-7", "alice")]


def test_signals_at_the_same_instant_give_one_answer_whatever_their_order(store: Store) -> None:
    """Two systems report the same hold at the same millisecond, and a person resolves it at the
    very moment another system reports it again: each order's row is the same, whichever of its
    spans the engine reads first (here: the two orders' spans in opposite trace-id order, written
    in opposite order)."""
    opened, closed = NOW - timedelta(hours=2), NOW - timedelta(hours=1)

    def signals(order: str, east_first: bool) -> list[SpanRow]:
        east = _exception(order, "credit_hold", "opened", opened, stage="credit", system="erp-east")
        west = _exception(order, "credit_hold", "opened", opened, stage="pricing", system="erp-west")
        again = _exception(order, "credit_hold", "opened", closed, stage="credit", system="erp-west")
        done = _exception(order, "credit_hold", "resolved", closed, stage="credit", **{"enduser.id": "amy"})
        # trace names whose ids sort east before west for one order and west before east for the other
        names = sorted((f"{order}-{i}" for i in range(8)), key=trace_id)
        east.trace, west.trace = (names[0], names[-1]) if east_first else (names[-1], names[0])
        again.trace, done.trace = (names[1], names[-2]) if east_first else (names[-2], names[1])
        spans = [east, west, again, done]
        return spans if east_first else spans[::-1]

    write(store, order_flow("SO-A", opened - timedelta(hours=1), stages=["capture"]))
    write(store, order_flow("SO-B", opened - timedelta(hours=1), stages=["capture"]))
    for span in signals("SO-A", east_first=True) + signals("SO-B", east_first=False):
        write(store, [span])  # one part each: the engine may read them in any order
    _engine(store).run_all()
    found = {e.order_id: e for e in reports.exceptions_queue(store, POLICY, status="", now=NOW).items}
    rows = {o: (e.system, e.stage, e.status, e.resolved_by, e.resolution_s) for o, e in sorted(found.items())}
    assert rows == {
        "SO-A": ("erp-east", "credit", "resolved", "amy", 3600.0),
        "SO-B": ("erp-east", "credit", "resolved", "amy", 3600.0),
    }


BAD_ACTIONS = [
    (
        lambda e: reports.assign(e, "SO-404", "credit_hold", "alice", actor="bob"),
        "has no 'credit_hold' exception",
    ),
    (lambda e: reports.assign(e, "SO-8", "credit_hold", " ", actor="bob"), "needs an owner"),
    (lambda e: reports.resolve(e, "SO-8", "credit_hold", actor=""), "needs the actor"),
    (lambda e: reports.comment(e, "SO-8", "credit_hold", "x" * 10_001, actor="bob"), "limited to 10000"),
    (lambda e: reports.comment(e, "SO-8", "credit_hold", "", actor="bob"), "needs text"),
]


def test_bad_actions_are_refused_and_change_nothing(store: Store) -> None:
    engine = _engine(store)
    write(store, [_exception("SO-8", "credit_hold", "opened", NOW - timedelta(hours=1))])
    engine.run_all()
    for call, message in BAD_ACTIONS:
        with pytest.raises(reports.ExceptionActionError, match=message):
            call(engine)
    assert reports.exception_history(store, "SO-8") == []
    assert [e.status for e in reports.exceptions_queue(store, POLICY, status="", now=NOW).items] == ["open"]
