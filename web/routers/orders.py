"""Find an order by any key, and its timeline (Gantt of hops across systems, with the raw spans)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from tracing.crosswalk import MAX_KEY_LENGTH
from tracing.timeline import CrosswalkError, OrderMatch, OrderNotFound, Timeline, find_orders, order_timeline
from web import charts, views
from web.deps import StateDep, StoreDep, Viewer, render

router = APIRouter(tags=["orders"])

SearchKey = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Any business key: order number, customer PO, EDI control number, shipment id, "
        "tracking number, invoice number, batch id.",
    ),
]
OrderId = Annotated[str, Path(min_length=1, max_length=MAX_KEY_LENGTH, description="Canonical order id.")]


def find_any_case(store: StoreDep, q: str) -> list[OrderMatch]:
    """Orders the key leads to as typed; when none, the key in upper and then lower case."""
    matches: list[OrderMatch] = []
    for variant in views.key_variants(q.strip()):
        matches = find_orders(store, variant)
        if matches:
            break
    return matches


def _search(store: StoreDep, q: str) -> list[OrderMatch]:
    try:
        return find_any_case(store, q)
    except CrosswalkError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def _timeline(store: StoreDep, order_id: str) -> Timeline:
    try:
        return order_timeline(store, order_id)
    except CrosswalkError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    except OrderNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/api/search", response_model=list[OrderMatch])
def api_search(q: SearchKey, store: StoreDep, principal: Viewer) -> list[OrderMatch]:
    """Orders a key leads to (one key may lead to several, e.g. a consolidated invoice). The key is
    matched as typed, else in upper case, else in lower case (``so-102835`` finds ``SO-102835``)."""
    return _search(store, q)


def _judged_timeline(state: StateDep, order_id: str) -> Timeline:
    """The timeline with its SLAs judged: who holds the order, and whether it is late."""
    now = state.now()
    timeline, breaches = views.in_parallel(
        lambda: _timeline(state.store, order_id),
        lambda: views.order_breaches(state.store, state.policy, order_id.strip(), now),
    )
    return views.order_sla(state.policy, timeline, breaches, now)


@router.get("/api/orders/{order_id:path}/timeline", response_model=Timeline)
def api_timeline(order_id: OrderId, state: StateDep, principal: Viewer) -> Timeline:
    """The order's hops, handoff gaps, critical path, state (who holds it now, since when, late or
    not against its SLAs), exceptions and raw spans."""
    return _judged_timeline(state, order_id)


@router.get("/api/orders", response_model=views.OrdersOverview)
def api_orders(state: StateDep, principal: Viewer) -> views.OrdersOverview:
    """Recently captured orders, at-risk orders and open orders past an SLA (the search page's lists)."""
    return views.order_overview(state.store, state.policy, now=state.now())


@router.get("/", include_in_schema=False)
def search_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    q: Annotated[str | None, Query(max_length=MAX_KEY_LENGTH)] = None,
) -> Response:
    key = (q or "").strip()
    matches: list[OrderMatch] | None = None
    error = None
    if key:
        try:
            matches = find_any_case(state.store, key)
        except CrosswalkError as exc:
            error = str(exc)
        if matches is not None and len({m.order_id for m in matches}) == 1:
            return RedirectResponse(f"/orders/{quote(matches[0].order_id, safe='')}", status_code=303)
    overview = views.order_overview(state.store, state.policy, now=state.now()) if not key else None
    states = views.order_states(state.store, [m.order_id for m in matches]) if matches else {}
    return render(
        request,
        state,
        "search.html",
        {
            "nav": "orders",
            "q": key,
            "matches": matches,
            "states": states,
            "error": error,
            "overview": overview,
        },
        principal=principal,
        status_code=400 if error else 200,
    )


def hop_matches(timeline: Timeline, text: str) -> list[int]:
    """Indexes of the hops whose stage, system, kind, status, outcome, exception types or span names
    contain ``text`` (case ignored)."""
    needle = text.strip().casefold()
    names = {span.span_id: span.name for span in timeline.spans}
    found = []
    for hop in timeline.hops:
        fields = [
            hop.stage,
            hop.system,
            hop.system_kind,
            hop.name,
            hop.status,
            hop.outcome,
            *hop.exception_types,
        ]
        fields += [names.get(span_id, "") for span_id in hop.span_ids]
        if any(needle in str(f).casefold() for f in fields):
            found.append(hop.index)
    return found


@router.get("/orders/{order_id:path}", include_in_schema=False)
def timeline_page(
    request: Request,
    order_id: OrderId,
    state: StateDep,
    principal: Viewer,
    hop: Annotated[str, Query(max_length=100, description="Show only hops matching this text.")] = "",
) -> Response:
    timeline = _judged_timeline(state, order_id)
    now = state.now()
    marks = views.sla_marks(timeline, state.policy)
    hop_spans = {span_id for h in timeline.hops for span_id in h.span_ids}
    late = [s for s in timeline.sla if s.state in ("late", "breached")]
    at_risk = [s for s in timeline.sla if s.state == "at_risk"]
    shown = set(hop_matches(timeline, hop)) if hop.strip() else {h.index for h in timeline.hops}
    return render(
        request,
        state,
        "timeline.html",
        {
            "nav": "orders",
            "t": timeline,
            "gantt": charts.gantt(timeline, now=now, sla_marks=marks),
            "sla_marks": marks,
            "late": late,
            "at_risk": at_risk,
            "hop_query": hop.strip(),
            "shown_hops": shown,
            "spans_by_id": {span.span_id: span for span in timeline.spans},
            "other_spans": [span for span in timeline.spans if span.span_id not in hop_spans],
            # the queue is asked only when the spans carry exceptions (most orders have none)
            "exceptions": views.order_exceptions(state.store, state.policy, timeline.order_id)
            if timeline.exceptions
            else [],
            "ai_insight": state.ai.order(timeline.order_id, timeline)
            if state.ai is not None and state.ai.any_enabled
            else None,
        },
        principal=principal,
    )
