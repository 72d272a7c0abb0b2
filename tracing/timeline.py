"""One order's journey across every system and trace: hops, handoff gaps, critical path, state.

The typed API the web dashboard, the alerts and ``tower trace`` share; its pydantic models are also
the JSON schema of ``GET /api/search?q=KEY`` (``list[OrderMatch]``) and
``GET /api/orders/{order_id}/timeline`` (``Timeline``).

Hop model (shared with the KPI jobs): a *hop* is a span carrying ``order.stage``; its system is
``system.instance`` (fallback ``service.name``) with kind ``system.kind`` (:mod:`tracing.projection`);
it starts at the span start and ends at start + duration. A *handoff gap* is the time between the
end of one hop and the start of the next hop of the same order (hops sorted by start), when
positive. The order is *held* during a gap by the system of the hop before it — or, while an
exception is open, by the system that raised it (a backorder at erp-west holds the order at
erp-west until restock): who holds an order now, since when, and who held it longest count waiting
as well as working time.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from storage import Store
from storage.errors import TowerError
from tracing import conventions as c
from tracing import projection
from tracing.crosswalk import (
    CrosswalkError,
    OrderSpans,
    RawSpan,
    attribute_values,
    find_order_keys,
    ns_to_datetime,
    order_spans,
)

__all__ = [
    "CrosswalkError",
    "OrderMatch",
    "OrderNotFound",
    "SlaStatus",
    "Timeline",
    "TimelineHop",
    "build_timeline",
    "find_orders",
    "order_timeline",
    "with_sla",
]

FINAL_STAGE = c.Stage.INVOICE.value
RESOLVED_OUTCOMES = frozenset(
    {
        c.ExceptionOutcome.RESOLVED.value,
        c.ExceptionOutcome.AUTO_RESOLVED.value,
        c.ExceptionOutcome.CANCELLED.value,
    }
)


class OrderNotFound(TowerError, LookupError):
    """No span of this order is stored."""


class OrderMatch(BaseModel):
    """An order a searched key leads to."""

    order_id: str
    key: str = Field(description="The key searched for.")
    key_types: list[str] = Field(description="Span attributes the key was found in, e.g. invoice.id.")
    first_seen: datetime
    last_seen: datetime
    trace_ids: list[str]
    via: Literal["key", "trace", "link", "related_key"] = Field(
        description="key: the key was on a span of the order; trace/link/related_key: stitched through "
        "a span without an order id (its trace, its span links, or another key on it)."
    )


class SpanEvent(BaseModel):
    time: datetime
    name: str
    attributes: dict[str, str]


class SpanLink(BaseModel):
    trace_id: str
    span_id: str
    attributes: dict[str, str]


class Span(BaseModel):
    """A raw span of the order, for drill-down."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start: datetime
    end: datetime
    duration_ns: int
    status_code: str
    status_message: str
    attributes: dict[str, str]
    resource_attributes: dict[str, str]
    events: list[SpanEvent]
    links: list[SpanLink]
    via: str = Field(
        description="Why the span is part of the order (tracing.attribution): order (its order.id), "
        "batch (listed in a batch), key:<attribute> (carries a strong key of the order), link (a span "
        "of the order links to it), linked_from (it links to a span of the order), parent (its "
        "parent belongs to the order), child (its child belongs to the order). A span found by two "
        "equally strong structural reasons (child, link, linked_from) names the first one found."
    )


class TimelineHop(BaseModel):
    """One system's work on the order: a span carrying order.stage."""

    index: int
    stage: str
    system: str
    system_kind: str
    name: str
    start: datetime
    end: datetime
    duration_ns: int
    status: str = Field(description="The span status: Ok, Error or Unset.")
    outcome: str = Field(description="Business outcome (order.status), e.g. accepted, held; may be empty.")
    trace_id: str
    span_id: str
    span_ids: list[str] = Field(description="The hop span and its descendants that carry no stage.")
    manual_touch: bool
    exception_types: list[str]


class Gap(BaseModel):
    """Waiting time at a handoff: from the end of one hop to the start of the next."""

    from_hop: int
    to_hop: int
    from_system: str
    to_system: str
    from_stage: str
    to_stage: str
    start: datetime
    end: datetime
    duration_ns: int
    held_by: str = Field(
        description="Who held the order while it waited: the system of the hop before the gap, or "
        "the system whose exception was open (e.g. a backorder)."
    )
    waiting_for: str = Field(description="What the order waited for, e.g. 'backorder at erp-west'.")


class PathSegment(BaseModel):
    kind: Literal["hop", "gap"]
    hop: int | None = Field(description="Hop index for hop segments; the hop before the gap for gaps.")
    system: str
    stage: str
    start: datetime
    end: datetime
    duration_ns: int


class CriticalPath(BaseModel):
    """The chain of hops and waits that set the order's end-to-end time."""

    segments: list[PathSegment]
    total_ns: int
    working_ns: int
    waiting_ns: int


class SlaStatus(BaseModel):
    """One SLA of the order as the SLA policy judges it (filled by callers that have the policy)."""

    sla: str
    state: Literal["met", "late", "breached", "at_risk", "open"] = Field(
        description="met / late (completed in / after target), breached (open past due), at_risk "
        "(open, due soon), open (due later)."
    )
    due: datetime | None
    source: Literal["jobs", "policy"] = Field(
        description="jobs: judged by the SLA jobs (business calendars included); policy: the wall-clock "
        "due time from the policy and the timeline."
    )


class CurrentState(BaseModel):
    status: Literal["open", "complete"]
    stage: str
    system: str
    since: datetime = Field(description="Start of the latest hop (when the order reached its stage).")
    age_ns: int | None = Field(description="How long the order has been at its stage (open orders).")
    idle_ns: int | None = Field(description="Time since the last hop ended (open orders).")
    as_of: datetime
    holder: str = Field(
        default="",
        description="Who holds the open order now: the system working on it, or the one it waits at "
        "(the system of an open exception, else of the last hop). Empty for complete orders.",
    )
    holder_kind: str = ""
    activity: Literal["working", "waiting", "done"] = Field(
        default="done", description="working: a hop is running; waiting: between hops; done: complete."
    )
    waiting_for: str = Field(
        default="",
        description="What the waiting order waits for: an open exception ('backorder at erp-west') or "
        "its next stage ('pick').",
    )
    held_since: datetime | None = Field(
        default=None, description="Since when the holder has had the order (its work and waits since)."
    )
    held_ns: int | None = Field(default=None, description="How long the holder has had it.")
    open_exceptions: list[str] = Field(default_factory=list)
    late: bool | None = Field(
        default=None,
        description="Whether an SLA is breached or was completed late; None when not judged (the "
        "timeline alone does not know the SLA policy: the web API and tower trace fill it in).",
    )
    late_slas: list[str] = Field(default_factory=list)


class ErrorRecord(BaseModel):
    time: datetime
    system: str
    stage: str
    name: str
    message: str
    error_type: str
    trace_id: str
    span_id: str


class ExceptionEvent(BaseModel):
    type: str
    outcome: str
    time: datetime
    system: str
    stage: str
    source: Literal["span", "event"]
    name: str
    trace_id: str
    span_id: str


class ExceptionCase(BaseModel):
    """An exception type on the order, opened and (maybe) resolved."""

    type: str
    opened: datetime
    resolved: datetime | None
    open: bool
    duration_ns: int | None
    system: str = Field(default="", description="The system that raised it.")


class ManualTouch(BaseModel):
    time: datetime
    system: str
    stage: str
    user: str
    trace_id: str
    span_id: str


class SystemHold(BaseModel):
    system: str
    system_kind: str
    held_ns: int = Field(
        description="Time the system held the order, working or with the order waiting at it (the "
        "holds of all systems add up to the order's elapsed time, up to now for an open order)."
    )
    working_ns: int = Field(default=0, description="Time a hop of the system was running on the order.")
    waiting_ns: int = Field(default=0, description="Time the order waited at the system between hops.")
    hops: int


class Timeline(BaseModel):
    """Everything known about one order's journey."""

    order_id: str
    keys: dict[str, list[str]] = Field(description="Business keys seen on the order's spans, by attribute.")
    channel: str
    customer: str
    start: datetime
    end: datetime
    cycle_ns: int = Field(description="First hop start to last hop end (so far, for open orders).")
    hops: list[TimelineHop]
    gaps: list[Gap]
    waiting_ns: int = Field(description="Sum of the handoff gaps.")
    critical_path: CriticalPath
    state: CurrentState
    errors: list[ErrorRecord]
    exceptions: list[ExceptionEvent]
    exception_cases: list[ExceptionCase]
    manual_touches: list[ManualTouch]
    systems: list[SystemHold] = Field(
        description="Systems by time held (working and waiting), longest first."
    )
    longest_system: SystemHold | None
    trace_ids: list[str]
    spans: list[Span]
    sla: list[SlaStatus] = Field(
        default_factory=list,
        description="The order's SLAs as the policy judges them; filled by the web API and tower trace.",
    )


# -- API -----------------------------------------------------------------------------------------


def find_orders(store: Store, key: str) -> list[OrderMatch]:
    """Orders reachable from any business key, oldest first (an invoice may list several)."""
    return [
        OrderMatch(
            order_id=m.order_id,
            key=m.key,
            key_types=m.key_types,
            first_seen=m.first_seen,
            last_seen=m.last_seen,
            trace_ids=m.trace_ids,
            via=m.via,  # type: ignore[arg-type]
        )
        for m in find_order_keys(store, key)
    ]


def order_timeline(store: Store, order_id: str, *, as_of: datetime | None = None) -> Timeline:
    """The order's timeline from every span stitched to it; :class:`OrderNotFound` when none."""
    stitched = order_spans(store, order_id)
    if not stitched.spans:
        raise OrderNotFound(f"no spans found for order {order_id.strip()!r}")
    return build_timeline(stitched, as_of=as_of)


def build_timeline(stitched: OrderSpans, *, as_of: datetime | None = None) -> Timeline:
    """Assemble the timeline from stitched spans (pure; no store access)."""
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    spans = stitched.spans
    hop_spans = [s for s in spans if s.attributes.get(c.STAGE)]
    hop_spans.sort(key=lambda s: (s.start_ns, s.end_ns, s.span_id))
    children = _descendants_without_stage(spans)
    hops = [_hop(i, s, children.get(s.ref, [])) for i, s in enumerate(hop_spans)]
    gaps = _gaps(hop_spans, hops)
    start_ns = min(s.start_ns for s in (hop_spans or spans))
    end_ns = max(s.end_ns for s in (hop_spans or spans))
    exceptions = _exceptions(spans)
    cases = _cases(exceptions)
    state = _state(hop_spans, spans, cases, now)
    _hold_gaps(gaps, cases)
    systems = _systems(hop_spans, cases, state, now)
    return Timeline(
        order_id=stitched.order_id,
        keys=stitched.keys,
        channel=_first_attr(spans, c.CHANNEL),
        customer=_first_attr(spans, c.CUSTOMER_ID),
        start=ns_to_datetime(start_ns),
        end=ns_to_datetime(end_ns),
        cycle_ns=end_ns - start_ns,
        hops=hops,
        gaps=gaps,
        waiting_ns=sum(g.duration_ns for g in gaps),
        critical_path=_critical_path(hop_spans),
        state=state,
        errors=[_error(s) for s in spans if s.status_code == "Error"],
        exceptions=exceptions,
        exception_cases=cases,
        manual_touches=[_touch(s) for s in spans if _is_manual(s)],
        systems=systems,
        longest_system=systems[0] if systems else None,
        trace_ids=stitched.trace_ids,
        spans=[_span(s, stitched.via.get(s.ref, "")) for s in spans],
    )


# -- assembly ------------------------------------------------------------------------------------


def with_sla(timeline: Timeline, statuses: list[SlaStatus]) -> Timeline:
    """The timeline with its SLAs judged (by a caller that has the SLA policy) and ``state.late``."""
    late = [s.sla for s in statuses if s.state in ("late", "breached")]
    state = timeline.state.model_copy(update={"late": bool(late), "late_slas": late})
    return timeline.model_copy(update={"sla": statuses, "state": state})


def system_of(span: RawSpan) -> str:
    """The hop's system: ``system.instance`` (span, then resource attribute), else ``service.name``."""
    return projection.system(span.attributes, span.resource_attributes, span.service)


def system_kind_of(span: RawSpan) -> str:
    return projection.system_kind(span.attributes, span.resource_attributes)


def _stage(span: RawSpan) -> str:
    return projection.stage(span.attributes)


def _is_manual(span: RawSpan) -> bool:
    return projection.manual_touch(span.attributes)


def _descendants_without_stage(spans: list[RawSpan]) -> dict[tuple[str, str], list[str]]:
    """For each hop span, the span ids below it down to (not into) the next hop span."""
    by_ref = {s.ref: s for s in spans}
    result: dict[tuple[str, str], list[str]] = defaultdict(list)
    for span in spans:
        if _stage(span):
            continue
        parent = by_ref.get((span.trace_id, span.parent_span_id))
        seen = 0
        while parent is not None and not _stage(parent) and seen < 64:
            parent = by_ref.get((parent.trace_id, parent.parent_span_id))
            seen += 1
        if parent is not None and _stage(parent):
            result[parent.ref].append(span.span_id)
    return result


def _hop(index: int, span: RawSpan, below: list[str]) -> TimelineHop:
    found = {e.attributes[c.EXCEPTION_TYPE] for e in span.events if e.attributes.get(c.EXCEPTION_TYPE)}
    if span.attributes.get(c.EXCEPTION_TYPE):
        found.add(span.attributes[c.EXCEPTION_TYPE])
    types = sorted(found)
    return TimelineHop(
        index=index,
        stage=_stage(span),
        system=system_of(span),
        system_kind=system_kind_of(span),
        name=span.name,
        start=ns_to_datetime(span.start_ns),
        end=ns_to_datetime(span.end_ns),
        duration_ns=span.duration_ns,
        status=span.status_code or "Unset",
        outcome=span.attributes.get(c.STATUS, ""),
        trace_id=span.trace_id,
        span_id=span.span_id,
        span_ids=[span.span_id, *sorted(below)],
        manual_touch=_is_manual(span),
        exception_types=types,
    )


def _gaps(hop_spans: list[RawSpan], hops: list[TimelineHop]) -> list[Gap]:
    gaps = []
    for i in range(len(hop_spans) - 1):
        before, after = hop_spans[i], hop_spans[i + 1]
        wait = after.start_ns - before.end_ns
        if wait > 0:
            gaps.append(
                Gap(
                    from_hop=i,
                    to_hop=i + 1,
                    from_system=hops[i].system,
                    to_system=hops[i + 1].system,
                    from_stage=hops[i].stage,
                    to_stage=hops[i + 1].stage,
                    start=ns_to_datetime(before.end_ns),
                    end=ns_to_datetime(after.start_ns),
                    duration_ns=wait,
                    held_by=hops[i].system,
                    waiting_for=hops[i + 1].stage,
                )
            )
    return gaps


def _open_case(cases: list[ExceptionCase], at: datetime) -> ExceptionCase | None:
    """The latest exception opened by ``at`` and not resolved before it."""
    open_then = [k for k in cases if k.opened <= at and (k.resolved is None or k.resolved > at)]
    return max(open_then, key=lambda k: k.opened) if open_then else None


def _hold_gaps(gaps: list[Gap], cases: list[ExceptionCase]) -> None:
    """A wait during an open exception is held by the system that raised it, waiting for its end."""
    for gap in gaps:
        case = _open_case(cases, gap.start)
        if case is not None and case.system:
            gap.held_by = case.system
            gap.waiting_for = f"{case.type} at {case.system}"


def _critical_path(hop_spans: list[RawSpan]) -> CriticalPath:
    """Walk back from the hop that ended last, each time to the hop that released it.

    The releasing hop is the one that ended last before the current hop started; when none ended
    before it, the earliest-starting hop still running at that moment (nested or overlapping work).
    """
    if not hop_spans:
        return CriticalPath(segments=[], total_ns=0, working_ns=0, waiting_ns=0)
    index = {id(s): i for i, s in enumerate(hop_spans)}
    current = max(hop_spans, key=lambda s: (s.end_ns, s.start_ns))
    chain = [current]
    while len(chain) <= len(hop_spans):
        before = [s for s in hop_spans if s is not current and s.end_ns <= current.start_ns]
        if before:
            current = max(before, key=lambda s: (s.end_ns, s.start_ns))
        else:
            overlapping = [s for s in hop_spans if s.start_ns < current.start_ns]
            if not overlapping:
                break
            current = min(overlapping, key=lambda s: (s.start_ns, -s.end_ns))
        chain.append(current)
    chain.reverse()
    segments: list[PathSegment] = []
    for i, span in enumerate(chain):
        next_start = chain[i + 1].start_ns if i + 1 < len(chain) else span.end_ns
        work_end = min(span.end_ns, next_start)
        segments.append(
            PathSegment(
                kind="hop",
                hop=index[id(span)],
                system=system_of(span),
                stage=_stage(span),
                start=ns_to_datetime(span.start_ns),
                end=ns_to_datetime(work_end),
                duration_ns=work_end - span.start_ns,
            )
        )
        if next_start > span.end_ns:
            segments.append(
                PathSegment(
                    kind="gap",
                    hop=index[id(span)],
                    system=f"{system_of(span)} -> {system_of(chain[i + 1])}",
                    stage=f"{_stage(span)} -> {_stage(chain[i + 1])}",
                    start=ns_to_datetime(span.end_ns),
                    end=ns_to_datetime(next_start),
                    duration_ns=next_start - span.end_ns,
                )
            )
    working = sum(s.duration_ns for s in segments if s.kind == "hop")
    waiting = sum(s.duration_ns for s in segments if s.kind == "gap")
    return CriticalPath(segments=segments, total_ns=working + waiting, working_ns=working, waiting_ns=waiting)


def _state(
    hop_spans: list[RawSpan], spans: list[RawSpan], cases: list[ExceptionCase], now: datetime
) -> CurrentState:
    now_ns = int(now.timestamp() * 1_000_000) * 1000
    members = hop_spans or spans
    latest = max(members, key=lambda s: (s.start_ns, s.end_ns))
    last = max(members, key=lambda s: (s.end_ns, s.start_ns))
    complete = _complete(hop_spans) and not any(case.open for case in cases)
    state = CurrentState(
        status="complete" if complete else "open",
        stage=_stage(latest),
        system=system_of(latest),
        since=ns_to_datetime(latest.start_ns),
        age_ns=None if complete else max(0, now_ns - latest.start_ns),
        idle_ns=None if complete else max(0, now_ns - last.end_ns),
        as_of=now,
        open_exceptions=sorted({case.type for case in cases if case.open}),
    )
    if complete:
        return state
    ordered = sorted(hop_spans, key=lambda s: (s.start_ns, s.end_ns))
    running = [s for s in ordered if s.start_ns <= now_ns < s.end_ns]
    case = _open_case(cases, now)
    if running:
        current = running[-1]
        holder, activity, waiting_for = system_of(current), "working", ""
    elif case is not None and case.system:
        holder, activity, waiting_for = case.system, "waiting", f"{case.type} at {case.system}"
    else:
        holder, activity = system_of(last), "waiting"
        waiting_for = _next_stage(_stage(last))
    since_ns: int | None = None
    for span in reversed(ordered):  # the holder's custody: its trailing run of hops
        if system_of(span) != holder:
            break
        since_ns = span.start_ns
    if since_ns is None and case is not None and case.system == holder:
        since_ns = int(case.opened.timestamp() * 1_000_000) * 1000  # held since it raised the exception
    if since_ns is None:
        since_ns = last.end_ns
    kinds = [system_kind_of(s) for s in ordered if system_of(s) == holder and system_kind_of(s)]
    return state.model_copy(
        update={
            "holder": holder,
            "holder_kind": kinds[-1] if kinds else "",
            "activity": activity,
            "waiting_for": waiting_for,
            "held_since": ns_to_datetime(since_ns),
            "held_ns": max(0, now_ns - since_ns),
        }
    )


def _next_stage(stage: str) -> str:
    order = [s.value for s in c.STAGE_ORDER]
    return order[order.index(stage) + 1] if stage in order[:-1] else ""


def _complete(hop_spans: list[RawSpan]) -> bool:
    """Shipped, invoiced without error, and every shipment that left was delivered."""
    invoiced = any(_stage(s) == FINAL_STAGE and s.status_code != "Error" for s in hop_spans)
    shipped = {
        attribute_values(s.attributes.get(c.SHIPMENT_ID, ""))[0]
        if s.attributes.get(c.SHIPMENT_ID)
        else s.span_id
        for s in hop_spans
        if _stage(s) == c.Stage.SHIP.value and s.status_code != "Error"
    }
    delivered = [s for s in hop_spans if _stage(s) == c.Stage.DELIVER.value and s.status_code != "Error"]
    return invoiced and bool(shipped) and len(delivered) >= len(shipped)


def _exceptions(spans: list[RawSpan]) -> list[ExceptionEvent]:
    found = []
    for span in spans:
        if span.attributes.get(c.EXCEPTION_TYPE):
            found.append(
                ExceptionEvent(
                    type=span.attributes[c.EXCEPTION_TYPE],
                    outcome=projection.exception_outcome(span.attributes),
                    time=ns_to_datetime(span.start_ns),
                    system=system_of(span),
                    stage=_stage(span),
                    source="span",
                    name=span.name,
                    trace_id=span.trace_id,
                    span_id=span.span_id,
                )
            )
        for event in span.events:
            if event.attributes.get(c.EXCEPTION_TYPE):
                found.append(
                    ExceptionEvent(
                        type=event.attributes[c.EXCEPTION_TYPE],
                        outcome=projection.exception_outcome(event.attributes),
                        time=ns_to_datetime(event.time_ns),
                        system=system_of(span),
                        stage=_stage(span),
                        source="event",
                        name=event.name,
                        trace_id=span.trace_id,
                        span_id=span.span_id,
                    )
                )
    found.sort(key=lambda e: (e.time, e.type))
    return found


def _cases(events: list[ExceptionEvent]) -> list[ExceptionCase]:
    """Pair each opened exception with the next resolution of the same type."""
    cases: list[ExceptionCase] = []
    open_by_type: dict[str, int] = {}
    for event in events:
        if event.outcome in RESOLVED_OUTCOMES:
            i = open_by_type.pop(event.type, None)
            if i is None:
                cases.append(
                    ExceptionCase(
                        type=event.type,
                        opened=event.time,
                        resolved=event.time,
                        open=False,
                        duration_ns=0,
                        system=event.system,
                    )
                )
            else:
                opened = cases[i].opened
                cases[i] = ExceptionCase(
                    type=event.type,
                    opened=opened,
                    resolved=event.time,
                    open=False,
                    duration_ns=int((event.time - opened).total_seconds() * 1e9),
                    system=cases[i].system,
                )
        elif event.type not in open_by_type:
            open_by_type[event.type] = len(cases)
            cases.append(
                ExceptionCase(
                    type=event.type,
                    opened=event.time,
                    resolved=None,
                    open=True,
                    duration_ns=None,
                    system=event.system,
                )
            )
    return cases


def _systems(
    hop_spans: list[RawSpan], cases: list[ExceptionCase], state: CurrentState, now: datetime
) -> list[SystemHold]:
    """Who held the order when, summed per system, longest first. From the first hop's start to the
    last hop's end (to now for an open order), the order is held by the system of the hop running
    then (the latest started, when several run) — working — else, waiting, by the system of an open
    exception (a backorder holds it at the ERP that raised it) or of the hop that ended last."""
    if not hop_spans:
        return []
    now_ns = int(now.timestamp() * 1_000_000) * 1000
    first = min(s.start_ns for s in hop_spans)
    last_end = max(s.end_ns for s in hop_spans)
    until = max(last_end, now_ns) if state.status == "open" else last_end
    cuts = sorted({first, until} | {s.start_ns for s in hop_spans} | {s.end_ns for s in hop_spans})
    cuts = [t for t in cuts if first <= t <= until]
    working: dict[str, int] = defaultdict(int)
    waiting: dict[str, int] = defaultdict(int)
    by_end = sorted(hop_spans, key=lambda s: (s.end_ns, s.start_ns))
    for a, b in itertools.pairwise(cuts):
        running = [s for s in hop_spans if s.start_ns <= a and s.end_ns >= b]
        if running:
            working[system_of(max(running, key=lambda s: (s.start_ns, s.end_ns)))] += b - a
            continue
        case = _open_case(cases, ns_to_datetime(a))
        if case is not None and case.system:
            waiting[case.system] += b - a
        else:
            ended = [s for s in by_end if s.end_ns <= a]
            waiting[system_of(ended[-1]) if ended else system_of(by_end[0])] += b - a
    counts: dict[str, int] = defaultdict(int)
    kinds: dict[str, str] = {}
    for span in hop_spans:
        counts[system_of(span)] += 1
        kinds.setdefault(system_of(span), system_kind_of(span))
    holds = [
        SystemHold(
            system=system,
            system_kind=kinds.get(system, ""),
            held_ns=working[system] + waiting[system],
            working_ns=working[system],
            waiting_ns=waiting[system],
            hops=counts[system],
        )
        for system in sorted(set(working) | set(waiting) | set(counts))
    ]
    holds.sort(key=lambda h: (-h.held_ns, h.system))
    return holds


def _error(span: RawSpan) -> ErrorRecord:
    return ErrorRecord(
        time=ns_to_datetime(span.start_ns),
        system=system_of(span),
        stage=_stage(span),
        name=span.name,
        message=span.status_message,
        error_type=span.attributes.get(c.ERROR_TYPE, ""),
        trace_id=span.trace_id,
        span_id=span.span_id,
    )


def _touch(span: RawSpan) -> ManualTouch:
    return ManualTouch(
        time=ns_to_datetime(span.start_ns),
        system=system_of(span),
        stage=_stage(span),
        user=span.attributes.get(c.ENDUSER_ID, ""),
        trace_id=span.trace_id,
        span_id=span.span_id,
    )


def _span(span: RawSpan, via: str) -> Span:
    return Span(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        service=span.service,
        start=ns_to_datetime(span.start_ns),
        end=ns_to_datetime(span.end_ns),
        duration_ns=span.duration_ns,
        status_code=span.status_code,
        status_message=span.status_message,
        attributes=span.attributes,
        resource_attributes=span.resource_attributes,
        events=[
            SpanEvent(time=ns_to_datetime(e.time_ns), name=e.name, attributes=e.attributes)
            for e in span.events
        ],
        links=[
            SpanLink(trace_id=lk.trace_id, span_id=lk.span_id, attributes=lk.attributes) for lk in span.links
        ],
        via=via,
    )


def _first_attr(spans: list[RawSpan], name: str) -> str:
    for span in spans:
        value = span.attributes.get(name)
        if value:
            return value
    return ""
