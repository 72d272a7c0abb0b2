"""Exceptions queue: open exceptions with aging buckets and filters; assign, comment, resolve and
reopen (ops role) with the audit trail (functions in ``kpis.reports``)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from ai.catalog import CAUSES
from kpis import reports
from kpis.reports import ExceptionActionError, OrderException, Segment
from web import charts
from web.csvexport import csv_response
from web.deps import Ops, StateDep, Viewer, WebState, render
from web.formatting import EXCEPTION_REF_PATTERN, exception_ref, exception_type_of, fmt_duration
from web.kpicache import CACHE
from web.settings import Role
from web.views import (
    ExceptionDetail,
    ExceptionFilters,
    ExceptionFiltersDep,
    ExceptionPage,
    PageNumber,
    SegmentDep,
    exception_detail,
    exception_filter_values,
    exception_queue,
    in_parallel,
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


FILTER_KEYS = (
    "status",
    "exception_type",
    "system",
    "owner",
    "aging",
    "channel",
    "region",
    "erp_instance",
    "warehouse",
    "customer_tier",
    "priority",
)
BULK_MAX = 500


def _filter_query(filters: ExceptionFilters, segment: Segment, **override: str) -> str:
    values = {**filters.model_dump(), **segment.model_dump(), **override}
    return urlencode(
        [(k, str(values[k])) for k in FILTER_KEYS if values.get(k) not in ("", 0, None)]
        + ([("status", "")] if values.get("status") == "" else [])
    )


@router.get("/exceptions.csv", include_in_schema=False)
def exceptions_csv(
    state: StateDep, principal: Viewer, filters: ExceptionFiltersDep, segment: SegmentDep
) -> Response:
    """The exceptions matching the filters as CSV (up to 10,000 rows, oldest first)."""
    queue = exception_queue(state.store, state.policy, filters, segment, 10_000, 1, now=state.now())
    playbooks = state.policy.exception_playbooks
    return csv_response(
        "exceptions",
        [
            "order_id",
            "exception_type",
            "system",
            "stage",
            "opened_at",
            "age_s",
            "age",
            "aging_bucket",
            "owner",
            "status",
            "priority",
            "customer_tier",
            "region",
            "warehouse",
            "next_step",
        ],
        (
            [
                e.order_id,
                e.exception_type,
                e.system,
                e.stage,
                e.opened_at,
                e.age_s,
                fmt_duration(e.age_s),
                e.aging_bucket,
                e.owner,
                e.status,
                e.priority,
                e.customer_tier,
                e.region,
                e.warehouse,
                playbooks[e.exception_type].next_step if e.exception_type in playbooks else "",
            ]
            for e in queue.items
        ),
    )


@router.get("/exceptions", include_in_schema=False)
def exceptions_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    filters: ExceptionFiltersDep,
    segment: SegmentDep,
    page: PageNumber = 1,
    done: Annotated[int, Query(ge=0, le=BULK_MAX)] = 0,
    failed: Annotated[int, Query(ge=0, le=BULK_MAX)] = 0,
) -> Response:
    now = state.now()
    queue, options, values, users = in_parallel(
        lambda: exception_queue(
            state.store, state.policy, filters, segment, state.settings.page_size, page, now=now
        ),
        lambda: segment_options(state.store, now=now),
        lambda: exception_filter_values(state.store),
        lambda: CACHE.get(
            state.store,
            ("owners",),
            lambda: [u.username for u in state.accounts.list_users() if not u.disabled],
            state.accounts,
        ),
    )
    links = page_links(
        request.url.path, request.query_params.multi_items(), page, queue.page_size, queue.total
    )
    aging = charts.bars([(b.label, float(b.open_exceptions), "") for b in queue.aging], width=520)
    aging_links = [
        f"/exceptions?{_filter_query(filters, segment, status='open', aging=str(i + 1))}"
        for i in range(len(queue.aging))
    ]
    causes = (
        state.ai.causes([(e.order_id, e.exception_type) for e in queue.items]) if state.ai is not None else {}
    )
    return render(
        request,
        state,
        "exceptions.html",
        {
            "segment_options": options,
            "filter_values": values,
            "users": users,
            "nav": "exceptions",
            "queue": queue,
            "links": links,
            "aging": aging,
            "aging_links": aging_links,
            "filters": filters,
            "segment": segment,
            "causes": causes,
            "ai_on": state.ai is not None and state.ai.enabled("exception_cause"),
            "playbooks": state.policy.exception_playbooks,
            "can_act": principal.role.allows(Role.OPS),
            "me": principal.name,
            "my_queue": f"/exceptions?{_filter_query(ExceptionFilters(owner=principal.name), Segment())}",
            "back": request.url.query,
            "csv": f"/exceptions.csv?{_filter_query(filters, segment)}",
            "done": done,
            "failed": failed,
            "auto_refresh": True,
        },
        principal=principal,
    )


@router.post("/exceptions/bulk", include_in_schema=False)
def exceptions_bulk(
    request: Request,
    state: StateDep,
    principal: Ops,
    action: Annotated[Literal["assign", "resolve"], Form()],
    item: Annotated[list[str], Form(description="exception_ref/order_id of each selected row")] = [],  # noqa: B006
    owner: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
    back: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Assign or resolve the selected exceptions (ops role, CSRF-checked); back to the queue (303)."""
    if not item:
        raise HTTPException(status_code=400, detail="select at least one exception")
    if len(item) > BULK_MAX:
        raise HTTPException(status_code=400, detail=f"at most {BULK_MAX} exceptions at once")
    if action == "assign":
        owner = owner.strip()
        if owner not in {u.username for u in state.accounts.list_users() if not u.disabled}:
            raise HTTPException(status_code=400, detail="choose an owner from the users")
    targets = []
    for value in item:
        ref, sep, order_id = value.partition("/")
        if not sep or not order_id or len(order_id) > 256:
            raise HTTPException(status_code=400, detail=f"malformed selection {value[:80]!r}")
        targets.append((_type(ref), order_id))
    done = failed = 0
    for kind, order_id in targets:
        try:
            _act(
                request, state, order_id, kind, action, principal.name, ActionRequest(owner=owner, note=note)
            )
            done += 1
        except HTTPException:
            failed += 1
    kept = [(k, v) for k, v in parse_qsl(back, keep_blank_values=True) if k in FILTER_KEYS or k == "page"]
    query = urlencode([*kept, ("done", str(done)), ("failed", str(failed))])
    return RedirectResponse(f"/exceptions?{query}", status_code=303)


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
            "users": [u.username for u in state.accounts.list_users() if not u.disabled],
            "playbook": state.policy.exception_playbooks.get(kind),
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
