"""Systems: per system throughput, error rate, latency, staleness, and the handoff map (which
systems hand orders to which, with volume and median wait)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from web import charts
from web.deps import StateDep, Viewer, render
from web.views import PeriodDep, SegmentDep, SystemsOverview, segment_options, systems_overview

router = APIRouter(tags=["systems"])
NAV = ("/systems", "Systems", "systems")

Window = Annotated[
    int, Query(ge=60, le=7 * 86400, description="Seconds the rates are measured over. Default: 3600")
]


@router.get("/api/systems", response_model=SystemsOverview)
def api_systems(
    state: StateDep, principal: Viewer, period: PeriodDep, segment: SegmentDep, window_s: Window = 3600
) -> SystemsOverview:
    """System health over the last ``window_s`` seconds and handoffs of orders captured in the period."""
    return systems_overview(state.store, period, segment, window_s, now=state.now())


@router.get("/systems", include_in_schema=False)
def systems_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    window_s: Window = 3600,
) -> Response:
    data = systems_overview(state.store, period, segment, window_s, now=state.now())
    kinds = {h.system: h.system_kind for h in data.health}
    graph = charts.handoff_map(
        kinds,
        [
            (h.from_system, h.to_system, h.handoffs, h.median_wait_s)
            for h in data.handoffs
            if h.from_system != h.to_system
        ],
    )
    return render(
        request,
        state,
        "systems.html",
        {
            "segment_options": segment_options(state.store, now=state.now()),
            "nav": "systems",
            "d": data,
            "graph": graph,
            "period": period,
            "segment": segment,
        },
        principal=principal,
    )
