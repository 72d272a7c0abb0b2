"""Exceptions queue: open exceptions with aging buckets and filters; assign, comment, resolve and
reopen (ops role) with the audit trail (functions in ``kpis.reports``)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from ai.causes import CAUSES
from kpis import reports
from kpis.reports import ExceptionActionError, OrderException
from web import charts
from web.deps import Ops, StateDep, Viewer, WebState, render
from web.formatting import EXCEPTION_REF_PATTERN, exception_ref, exception_type_of
from web.settings import Role
from web.views import (
    ExceptionDetail,
    ExceptionFiltersDep,
    ExceptionPage,
    PageNumber,
    SegmentDep,
    exception_detail,
    exception_queue,
    page_links,
    segment_options,
)

router = APIRouter(tags=["exceptions"])
NAV = ("/exceptions", "Exceptions", "exceptions")

ExceptionType = Annotated[
    str,
    Path(
        pattern=EXCEPTION_REF_PATTERN,
        description="Exception type: as is when it is 1-100 of A-Z a-z 0-9 _ . : -, else '~' and the "
        "base64url (no padding) of its UTF-8 bytes.",
    ),
]
OrderId = Annotated[str, Path(min_length=1, max_length=256, description="Canonical order id.")]
Action = Literal["assign", "comment", "resolve", "reopen"]


class ActionRequest(BaseModel):
    owner: str = Field(default="", max_length=200, description="New owner (assign).")
    note: str = Field(default="", max_length=10_000, description="Comment or resolution note.")


def _type(ref: str) -> str:
    try:
        return exception_type_of(ref)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def _act(
    request: Request,
    state: WebState,
    order_id: str,
    exception_type: str,
    action: str,
    actor: str,
    body: ActionRequest,
) -> OrderException:
    engine, now = state.engine, state.now()
    target = f"{exception_type}/{order_id}"
    details = {"owner": body.owner} if action == "assign" else {"note": body.note[:500]}
    try:
        if action == "assign":
            result = reports.assign(engine, order_id, exception_type, body.owner, actor, now=now)
        elif action == "comment":
            result = reports.comment(engine, order_id, exception_type, body.note, actor, now=now)
        elif action == "resolve":
            result = reports.resolve(engine, order_id, exception_type, actor, body.note, now=now)
        else:
            result = reports.reopen(engine, order_id, exception_type, actor, body.note, now=now)
    except ExceptionActionError as exc:
        state.audit(
            request, actor, f"exception.{action}", target, outcome="failed", details={"reason": str(exc)}
        )
        status = 404 if "has no" in str(exc) else 400
        raise HTTPException(status_code=status, detail=str(exc)) from None
    state.audit(request, actor, f"exception.{action}", target, details=details)
    return result


@router.get("/api/exceptions", response_model=ExceptionPage)
def api_exceptions(
    state: StateDep,
    principal: Viewer,
    filters: ExceptionFiltersDep,
    segment: SegmentDep,
    page: PageNumber = 1,
) -> ExceptionPage:
    """One page of the exceptions matching the filters (oldest first; ``total`` counts all pages) and
    the aging buckets of the open ones."""
    return exception_queue(
        state.store, state.policy, filters, segment, state.settings.page_size, page, now=state.now()
    )


@router.get("/api/exceptions/{exception_type}/{order_id:path}", response_model=ExceptionDetail)
def api_exception(
    exception_type: ExceptionType, order_id: OrderId, state: StateDep, principal: Viewer
) -> ExceptionDetail:
    """One exception and its audit trail."""
    return exception_detail(state.store, state.policy, order_id, _type(exception_type), now=state.now())


@router.post("/api/exceptions/{exception_type}/{action}/{order_id:path}", response_model=OrderException)
def api_exception_action(
    request: Request,
    exception_type: ExceptionType,
    action: Action,
    order_id: OrderId,
    body: ActionRequest,
    state: StateDep,
    principal: Ops,
) -> OrderException:
    """Assign (owner), comment (note), resolve or reopen an exception (ops role); recorded in the audit trail."""
    return _act(request, state, order_id, _type(exception_type), action, principal.name, body)


@router.get("/exceptions", include_in_schema=False)
def exceptions_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    filters: ExceptionFiltersDep,
    segment: SegmentDep,
    page: PageNumber = 1,
) -> Response:
    queue = exception_queue(
        state.store, state.policy, filters, segment, state.settings.page_size, page, now=state.now()
    )
    links = page_links(
        request.url.path, request.query_params.multi_items(), page, queue.page_size, queue.total
    )
    aging = charts.bars([(b.label, float(b.open_exceptions), "") for b in queue.aging], width=520)
    causes = (
        state.ai.causes([(e.order_id, e.exception_type) for e in queue.items]) if state.ai is not None else {}
    )
    return render(
        request,
        state,
        "exceptions.html",
        {
            "segment_options": segment_options(state.store, now=state.now()),
            "nav": "exceptions",
            "queue": queue,
            "links": links,
            "aging": aging,
            "filters": filters,
            "segment": segment,
            "causes": causes,
            "ai_on": state.ai is not None and state.ai.enabled("exception_cause"),
        },
        principal=principal,
    )


@router.get("/exceptions/{exception_type}/{order_id:path}", include_in_schema=False)
def exception_page(
    request: Request, exception_type: ExceptionType, order_id: OrderId, state: StateDep, principal: Viewer
) -> Response:
    kind = _type(exception_type)
    detail = exception_detail(state.store, state.policy, order_id, kind, now=state.now())
    ai = state.ai
    cause = ai.causes([(detail.exception.order_id, kind)]) if ai is not None else {}
    return render(
        request,
        state,
        "exception.html",
        {
            "nav": "exceptions",
            "d": detail,
            "can_act": principal.role.allows(Role.OPS),
            "cause": cause.get((detail.exception.order_id, kind)),
            "cause_reviews": [r for r in ai.reviews(detail.exception.order_id) if r.subject_key == kind]
            if ai is not None
            else [],
            "causes_list": CAUSES,
        },
        principal=principal,
    )


@router.post("/exceptions/{exception_type}/{action}/{order_id:path}", include_in_schema=False)
def exception_action_form(
    request: Request,
    exception_type: ExceptionType,
    action: Action,
    order_id: OrderId,
    state: StateDep,
    principal: Ops,
    owner: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    kind = _type(exception_type)
    _act(request, state, order_id, kind, action, principal.name, ActionRequest(owner=owner, note=note))
    return RedirectResponse(f"/exceptions/{exception_ref(kind)}/{quote(order_id, safe='')}", status_code=303)
