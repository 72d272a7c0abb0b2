"""Liveness and readiness: ``/healthz`` answers without a login."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from web.deps import StoreDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    store: str
    database: str


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(store: StoreDep) -> JSONResponse:
    """200 when the store answers a query, else 503."""
    try:
        store.scalar("SELECT 1")
        ok = True
    except Exception:
        ok = False
    body = Health(
        status="ok" if ok else "unavailable", store="ok" if ok else "unreachable", database=store.database
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
