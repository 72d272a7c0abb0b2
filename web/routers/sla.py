"""SLA: attainment per SLA, breaches and at-risk orders with time to breach, by stage and segment."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from web.deps import StateDep, Viewer, render
from web.views import (
    PageNumber,
    PeriodDep,
    SegmentDep,
    SlaOverview,
    page_links,
    segment_options,
    sla_overview,
)

router = APIRouter(tags=["sla"])
NAV = ("/sla", "SLA", "sla")

Status = Annotated[
    Literal["", "breached", "at_risk"], Query(description="breached, at_risk or both (empty).")
]
SlaName = Annotated[str, Query(max_length=100, pattern=r"^[A-Za-z0-9_.-]*$", description="One SLA by name.")]
OpenOnly = Annotated[bool, Query(description="Only orders still open.")]


@router.get("/api/sla", response_model=SlaOverview)
def api_sla(
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    status: Status = "",
    sla: SlaName = "",
    open_only: OpenOnly = False,
    page: PageNumber = 1,
) -> SlaOverview:
    """SLA attainment for orders captured in the period, and one page of the breached/at-risk orders
    since its start (``total`` counts all pages)."""
    return sla_overview(
        state.store,
        state.policy,
        period,
        segment,
        status,
        sla,
        open_only,
        state.settings.page_size,
        page,
        now=state.now(),
    )


@router.get("/sla", include_in_schema=False)
def sla_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    status: Status = "",
    sla: SlaName = "",
    open_only: OpenOnly = False,
    page: PageNumber = 1,
) -> Response:
    data = sla_overview(
        state.store,
        state.policy,
        period,
        segment,
        status,
        sla,
        open_only,
        state.settings.page_size,
        page,
        now=state.now(),
    )
    links = page_links(request.url.path, request.query_params.multi_items(), page, data.page_size, data.total)
    return render(
        request,
        state,
        "sla.html",
        {
            "nav": "sla",
            "segment_options": segment_options(state.store, now=state.now()),
            "d": data,
            "links": links,
            "status": status,
            "sla": sla,
            "open_only": open_only,
            "sla_names": [s.name for s in state.policy.slas],
        },
        principal=principal,
    )
