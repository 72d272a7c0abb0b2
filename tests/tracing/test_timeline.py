"""The order timeline: exact hops, handoff gaps, durations, state, exceptions and the critical path
for a known scenario, plus open orders, failed hops and the JSON contract the API serves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from scenarios import EXPECTED_GAPS, EXPECTED_HOPS, edi_split_order, hop
from support.spans import SpanRow, at, insert

from storage import Store
from tracing.crosswalk import OrderSpans, RawSpan
from tracing.timeline import OrderNotFound, Timeline, build_timeline, order_timeline

MINUTE_NS = 60 * 1_000_000_000


def failing_order() -> list[SpanRow]:
    """SO-3001: captured, then EDI mapping fails in middleware; the exception is still open."""
    capture = hop(
        "web-3001",
        "c3001",
        "capture",
        "webshop",
        "ecommerce",
        at(22, 9, 0),
        at(22, 9, 0, 30),
        **{"order.id": "SO-3001", "order.ecommerce_id": "W-88", "order.channel": "ecommerce"},
    )
    mapping = hop(
        "mw-3001",
        "m3001",
        "validation",
        "middleware",
        "middleware",
        at(22, 9, 5),
        at(22, 9, 6),
        **{"order.id": "SO-3001"},
    )
    mapping.status = "Error"
    mapping.status_message = "segment N1 missing"
    mapping.attributes["error.type"] = "MappingError"
    mapping.events = [
        (
            at(22, 9, 6),
            "exception",
            {"order.exception.type": "edi_mapping", "order.exception.outcome": "opened"},
        )
    ]
    return [capture, mapping]


@pytest.fixture(scope="module")
def loaded(module_store: Store) -> Iterator[Store]:
    insert(module_store, edi_split_order() + failing_order())
    yield module_store


@pytest.fixture(scope="module")
def timeline(loaded: Store) -> Timeline:
    return order_timeline(loaded, "SO-1001")


def test_hops_are_exactly_the_order_journey(timeline: Timeline) -> None:
    got = [(h.stage, h.system, h.start, h.end) for h in timeline.hops]
    assert got == EXPECTED_HOPS
    assert [h.duration_ns // MINUTE_NS for h in timeline.hops] == [2, 1, 60, 5, 30, 10, 10, 1, 1, 5]
    assert [h.system_kind for h in timeline.hops] == [
        "edi",
        "middleware",
        "erp",
        "erp",
        "wms",
        "wms",
        "wms",
        "carrier",
        "carrier",
        "finance",
    ]
    assert all(h.status == "Ok" for h in timeline.hops)
    # the middleware hop carries its mapping child span for drill-down
    assert len(timeline.hops[1].span_ids) == 2


def test_handoff_gaps_are_attributed_to_hop_boundaries(timeline: Timeline) -> None:
    got = [(g.from_hop, g.to_hop, g.duration_ns // MINUTE_NS) for g in timeline.gaps]
    assert got == EXPECTED_GAPS
    first = timeline.gaps[0]
    assert (first.from_system, first.to_system, first.from_stage, first.to_stage) == (
        "edi-gateway",
        "middleware",
        "capture",
        "validation",
    )
    assert (first.start, first.end) == (at(2, 8, 2), at(2, 8, 10))
    assert timeline.waiting_ns == sum(m for _, _, m in EXPECTED_GAPS) * MINUTE_NS
    assert timeline.cycle_ns == int((at(4, 16, 5) - at(2, 8, 0)).total_seconds()) * 1_000_000_000


def test_state_systems_touches_and_exceptions(timeline: Timeline) -> None:
    assert timeline.state.status == "complete"
    assert (timeline.state.stage, timeline.state.system) == ("invoice", "finance-cloud")
    assert timeline.longest_system is not None
    # holding counts waiting: the WMS had the order from pick to the second shipment's departure
    # (50 min of work, 27 h 10 min of waits: the backorder split), longer than anyone else
    wms = timeline.longest_system
    assert (wms.system, wms.held_ns, wms.working_ns) == ("wms-central", 28 * 60 * MINUTE_NS, 50 * MINUTE_NS)
    held = {h.system: (h.held_ns // MINUTE_NS, h.working_ns // MINUTE_NS) for h in timeline.systems}
    assert held == {
        "wms-central": (28 * 60, 50),
        "carrier-ups": (26 * 60, 2),
        "erp-east": (90, 65),
        "middleware": (20, 1),
        "edi-gateway": (10, 2),
        "finance-cloud": (5, 5),
    }
    assert sum(h.held_ns for h in timeline.systems) == timeline.cycle_ns  # every moment has one holder
    assert [(t.system, t.stage, t.user) for t in timeline.manual_touches] == [("erp-east", "credit", "jdoe")]
    assert [(e.type, e.outcome, e.source) for e in timeline.exceptions] == [
        ("credit_hold", "opened", "event"),
        ("credit_hold", "resolved", "event"),
    ]
    [case] = timeline.exception_cases
    assert (case.type, case.open, case.duration_ns) == ("credit_hold", False, 58 * MINUTE_NS)
    assert timeline.errors == []
    assert timeline.channel == "edi" and timeline.customer == "C-ACME"
    assert timeline.keys["shipment.id"] == ["SH-1", "SH-2"]
    assert timeline.keys["invoice.id"] == ["INV-9"]


def test_critical_path_covers_the_whole_cycle(timeline: Timeline) -> None:
    path = timeline.critical_path
    assert path.total_ns == timeline.cycle_ns
    assert path.waiting_ns + path.working_ns == path.total_ns
    hops = [s.hop for s in path.segments if s.kind == "hop"]
    assert hops == list(range(10))  # in this serial journey every hop is on the path
    assert path.waiting_ns == timeline.waiting_ns


def test_open_order_with_a_failed_hop(loaded: Store) -> None:
    as_of = at(22, 10, 6)
    t = order_timeline(loaded, "SO-3001", as_of=as_of)
    assert t.state.status == "open"
    assert (t.state.stage, t.state.system) == ("validation", "middleware")
    assert t.state.age_ns == 61 * MINUTE_NS  # at validation since 09:05
    assert t.state.idle_ns == 60 * MINUTE_NS  # nothing happened since 09:06
    [error] = t.errors
    assert (error.system, error.message, error.error_type) == (
        "middleware",
        "segment N1 missing",
        "MappingError",
    )
    assert t.hops[1].status == "Error" and t.hops[1].exception_types == ["edi_mapping"]
    [case] = t.exception_cases
    assert case.open and case.resolved is None
    assert [g.duration_ns for g in t.gaps] == [int(4.5 * MINUTE_NS)]


def test_unknown_order_is_not_found(loaded: Store) -> None:
    with pytest.raises(OrderNotFound, match="SO-404"):
        order_timeline(loaded, "SO-404")


def test_timeline_json_round_trips_for_the_api(timeline: Timeline) -> None:
    again = Timeline.model_validate_json(timeline.model_dump_json())
    assert again == timeline
    assert len(again.spans) == 12  # ten hop spans, the EDI translation and the mapping child span


def _raw(name: str, start_min: int, minutes: int, stage: str = "pick") -> RawSpan:
    base = int(at(1, 0).timestamp()) * 1_000_000_000
    return RawSpan(
        trace_id="t",
        span_id=name,
        parent_span_id="",
        name=name,
        kind="Internal",
        service=name,
        start_ns=base + start_min * MINUTE_NS,
        duration_ns=minutes * MINUTE_NS,
        status_code="Ok",
        status_message="",
        attributes={"order.stage": stage, "order.id": "X"},
        resource_attributes={},
    )


def test_overlapping_hops_have_no_negative_gaps_and_union_hold_time() -> None:
    # a parent hop 0-60 with nested work 10-20 and 30-40 in the same system, then a hop at 70
    spans = [
        _raw("outer", 0, 60),
        _raw("outer-a", 10, 10),
        _raw("outer-b", 30, 10),
        _raw("next", 70, 5, "ship"),
    ]
    for s in spans[1:3]:
        s.service = "outer"
    t = build_timeline(OrderSpans("X", spans, {}, ["t"], {}), as_of=at(1, 2))
    # gaps follow the hop model exactly: consecutive hops by start, end -> next start when positive
    assert [(g.from_hop, g.to_hop, g.duration_ns // MINUTE_NS) for g in t.gaps] == [(1, 2, 10), (2, 3, 30)]
    # outer works 0-60 (its nested hops are its own), then holds the waiting order until 70; the
    # open order has waited at "next" since 75 (as of 120)
    assert [(h.system, h.held_ns // MINUTE_NS, h.working_ns // MINUTE_NS) for h in t.systems] == [
        ("outer", 70, 60),
        ("next", 50, 5),
    ]
    assert (t.state.holder, t.state.activity, t.state.held_ns) == ("next", "waiting", 50 * MINUTE_NS)
    assert t.critical_path.total_ns == 75 * MINUTE_NS
    assert [s.kind for s in t.critical_path.segments] == ["hop", "gap", "hop"]
    assert t.state.status == "open" and t.state.stage == "ship"
    assert t.state.age_ns == int((timedelta(hours=2) - timedelta(minutes=70)).total_seconds()) * 1_000_000_000
