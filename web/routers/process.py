"""Process: the directly-follows map (frequency and performance views), variants, conformance, the
orders behind each, and the OCEL 2.0 / XES exports streamed."""

from __future__ import annotations

import io
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response, StreamingResponse

from kpis.process import conformance as conf
from kpis.process import mining, ocel
from kpis.process.filters import SEGMENT_FIELDS, FilterError, ProcessFilter, make_filter
from kpis.process.paths import refresh_paths
from web.deps import StateDep, Viewer, render
from web.process_chart import process_chart

router = APIRouter(tags=["process"])
NAV = ("/process", "Process", "process")

PAGING = {"limit", "offset"}
CLICKS = {"variant", "source", "target", "activity"}
_ALLOWED = {
    "map": {"start", "end", *SEGMENT_FIELDS},
    "variants": {"start", "end", *SEGMENT_FIELDS, *PAGING},
    "orders": {"start", "end", *SEGMENT_FIELDS, *PAGING, *CLICKS},
    "conformance": {"start", "end", *SEGMENT_FIELDS},
    "deviations": {"start", "end", *SEGMENT_FIELDS, *PAGING, "kind", "detail"},
    "ocel": {"start", "end", *SEGMENT_FIELDS, "format"},
    "xes": {"start", "end", *SEGMENT_FIELDS},
    "page": {"start", "end", *SEGMENT_FIELDS, *CLICKS, "view", "kind", "detail", "days"},
}
Text = Annotated[str, Query(max_length=500)]


def process_filter(
    request: Request,
    start: Annotated[
        datetime | None, Query(description="First hops from (UTC). Default: 7 days before end.")
    ] = None,
    end: Annotated[
        datetime | None, Query(description="First hops before (UTC). Default: tomorrow 00:00.")
    ] = None,
    days: Annotated[int, Query(ge=1, le=400, description="Length of the default range. Default: 7")] = 7,
    channel: Text = "",
    region: Text = "",
    erp: Text = "",
    warehouse: Text = "",
    customer_tier: Text = "",
) -> ProcessFilter:
    """The filter from the query string; an unknown parameter is an error, not silently ignored."""
    area = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    allowed = _ALLOWED.get(area, _ALLOWED["page"]) | {"days"}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise HTTPException(
            status_code=400,
            detail=f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
        )
    if end is None:
        end = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    if start is None:
        start = end - timedelta(days=days)
    try:
        return make_filter(
            start=start,
            end=end,
            channel=channel,
            region=region,
            erp=erp,
            warehouse=warehouse,
            customer_tier=customer_tier,
        )
    except FilterError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


FilterDep = Annotated[ProcessFilter, Depends(process_filter)]
Limit = Annotated[int, Query(ge=1, le=mining.MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def _bad_request(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except FilterError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@router.get("/api/process/map", response_model=mining.ProcessMap)
def api_map(state: StateDep, principal: Viewer, flt: FilterDep) -> mining.ProcessMap:
    """Directly-follows map of the orders whose first hop started in [start, end): activities
    ("stage @ system") and edges with transitions, orders, median and p90 wait."""
    return mining.process_map(state.store, flt)


@router.get("/api/process/variants", response_model=mining.Variants)
def api_variants(
    state: StateDep, principal: Viewer, flt: FilterDep, limit: Limit = 50, offset: Offset = 0
) -> mining.Variants:
    """Variants (distinct paths) by order count, with share and median / p90 cycle time."""
    return _bad_request(lambda: mining.variants(state.store, flt, limit, offset))


@router.get("/api/process/orders", response_model=list[mining.CaseOrder])
def api_orders(
    state: StateDep,
    principal: Viewer,
    flt: FilterDep,
    variant: Text = "",
    source: Text = "",
    target: Text = "",
    activity: Text = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[mining.CaseOrder]:
    """The orders of a variant, an edge (source and target) or an activity."""
    return _bad_request(
        lambda: mining.case_orders(
            state.store,
            flt,
            variant=variant,
            source=source,
            target=target,
            activity=activity,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/api/process/conformance", response_model=conf.ConformanceSummary)
def api_conformance(state: StateDep, principal: Viewer, flt: FilterDep) -> conf.ConformanceSummary:
    """How many orders deviate from the expected path of their channel (the policy's ``process``),
    and how: rework loops, skipped stages, stages out of order."""
    return conf.conformance(state.store, flt, state.policy.process)


class DeviatingOrders(BaseModel):
    total: int
    orders: list[conf.DeviatingOrder]


@router.get("/api/process/deviations", response_model=DeviatingOrders)
def api_deviations(
    state: StateDep,
    principal: Viewer,
    flt: FilterDep,
    kind: Annotated[str, Query(max_length=20, description="rework, skipped or order")] = "",
    detail: Text = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> DeviatingOrders:
    """Orders with deviations (of one kind, or one deviation)."""
    total, orders = _bad_request(
        lambda: conf.deviating_orders(
            state.store, flt, state.policy.process, kind=kind, detail=detail, limit=limit, offset=offset
        )
    )
    return DeviatingOrders(total=total, orders=orders)


class _Pipe(io.RawIOBase):
    """A file the export writes into; a reader on another thread takes the chunks from the queue."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None], cancelled: threading.Event) -> None:
        self.chunks, self.cancelled = chunks, cancelled

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        while not self.cancelled.is_set():
            try:
                self.chunks.put(bytes(data), timeout=1)
                return len(data)
            except queue.Full:
                continue
        raise BrokenPipeError("the client went away")


def streamed(produce: Callable[[BinaryIO], None]) -> Iterator[bytes]:
    """Run ``produce`` on its own thread (the engine's result stream stays on one thread) and yield
    what it writes, in 256 KiB chunks with at most 8 chunks in flight: bounded memory."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
    cancelled = threading.Event()

    def run() -> None:
        try:
            with io.BufferedWriter(_Pipe(chunks, cancelled), buffer_size=1 << 18) as out:
                produce(out)
        except BaseException as exc:
            if not cancelled.is_set():
                chunks.put(exc)
            return
        chunks.put(None)

    threading.Thread(target=run, name="process-export", daemon=True).start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()


def _name(flt: ProcessFilter, ext: str) -> str:
    return f"orders-{flt.start:%Y%m%dT%H%M}-{flt.end:%Y%m%dT%H%M}.{ext}"


_OCEL_JSON = {
    "type": "object",
    "description": "OCEL 2.0 JSON (https://www.ocel-standard.org/): object and event types, objects, events",
    "properties": {
        k: {"type": "array", "items": {"type": "object"}}
        for k in ("objectTypes", "eventTypes", "objects", "events")
    },
}
_FILE = {"type": "string", "format": "binary"}


@router.get(
    "/api/process/export/ocel",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The OCEL 2.0 log, streamed (sqlite: a database file)",
            "content": {
                "application/json": {"schema": _OCEL_JSON},
                "application/xml": {"schema": _FILE},
                "application/vnd.sqlite3": {"schema": _FILE},
            },
        }
    },
)
def api_export_ocel(
    state: StateDep,
    principal: Viewer,
    flt: FilterDep,
    fmt: Annotated[Literal["json", "xml", "sqlite"], Query(alias="format")] = "json",
) -> Response:
    """OCEL 2.0 of the filter's orders (json, xml: streamed as written; sqlite: a database file)."""
    store = state.store
    refresh_paths(store)  # orders whose spans arrived since the scheduler last ran are included
    if fmt == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="tower-ocel-"))
        path = folder / _name(flt, "sqlite")
        ocel.write_sqlite(store, flt, path)

        def cleanup() -> None:
            path.unlink(missing_ok=True)
            folder.rmdir()

        return FileResponse(
            path,
            media_type="application/vnd.sqlite3",
            filename=path.name,
            background=BackgroundTask(cleanup),
        )
    media = "application/json" if fmt == "json" else "application/xml"
    return StreamingResponse(
        streamed(lambda out: ocel.export(store, flt, fmt, out)),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{_name(flt, fmt + "ocel")}"'},
    )


@router.get(
    "/api/process/export/xes",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The XES log, streamed", "content": {"application/xml": {"schema": _FILE}}}
    },
)
def api_export_xes(state: StateDep, principal: Viewer, flt: FilterDep) -> Response:
    """XES of the filter's orders (case = order), streamed."""
    store = state.store
    refresh_paths(store)
    return StreamingResponse(
        streamed(lambda out: ocel.write_xes(store, flt, out)),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{_name(flt, "xes")}"'},
    )


@router.get("/process", include_in_schema=False)
def process_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    flt: FilterDep,
    view: Annotated[Literal["frequency", "performance"], Query()] = "frequency",
    variant: Text = "",
    source: Text = "",
    target: Text = "",
    activity: Text = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    detail: Text = "",
) -> Response:
    store = state.store
    pm = mining.process_map(store, flt)
    link = {
        "start": flt.start.isoformat(),
        "end": flt.end.isoformat(),
        **flt.segment(),
        "view": view,
    }
    variants = mining.variants(store, flt, limit=25)
    summary = conf.conformance(store, flt, state.policy.process)
    orders: list[mining.CaseOrder] | None = None
    deviating: tuple[int, list[conf.DeviatingOrder]] | None = None
    try:
        if variant or source or activity:
            orders = mining.case_orders(
                store, flt, variant=variant, source=source, target=target, activity=activity, limit=200
            )
        if kind or detail:
            deviating = conf.deviating_orders(
                store, flt, state.policy.process, kind=kind, detail=detail, limit=200
            )
    except FilterError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return render(
        request,
        state,
        "process.html",
        {
            "nav": "process",
            "flt": flt,
            "view": view,
            "link": link,
            "pm": pm,
            "chart": process_chart(pm, view, link),
            "variants": variants,
            "summary": summary,
            "orders": orders,
            "deviating": deviating,
            "selected": {
                "variant": variant,
                "source": source,
                "target": target,
                "activity": activity,
                "kind": kind,
                "detail": detail,
            },
        },
        principal=principal,
    )
