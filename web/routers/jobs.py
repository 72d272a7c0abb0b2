"""Jobs: the scheduled KPI/SLA job runs (duration, rows, errors) and their watermarks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from web.deps import Ops, StateDep, Viewer, render
from web.views import JobRunRequest, JobRunResult, JobsOverview, jobs_overview, run_jobs

router = APIRouter(tags=["jobs"])
NAV = ("/jobs", "Jobs", "jobs")

JobName = Annotated[str, Query(max_length=100, pattern=r"^[a-z0-9_.-]*$", description="One job by name.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Runs to list. Default: 100")]


@router.get("/api/jobs", response_model=JobsOverview)
def api_jobs(state: StateDep, principal: Viewer, job: JobName = "", limit: Limit = 100) -> JobsOverview:
    """Recent job runs, newest first, and each job's watermark."""
    return jobs_overview(state.store, state.engine, job, limit)


@router.post("/api/jobs/run", response_model=list[JobRunResult])
def api_run_jobs(state: StateDep, principal: Ops, request: JobRunRequest) -> list[JobRunResult]:
    """Run the KPI and SLA jobs now (``tower kpis run`` while this tower holds the store): every job
    incrementally by default, the given ``jobs``, ``from``/``to`` a time range, or ``full``."""
    return run_jobs(state.engine, request)


@router.get("/jobs", include_in_schema=False)
def jobs_page(
    request: Request, state: StateDep, principal: Viewer, job: JobName = "", limit: Limit = 100
) -> Response:
    data = jobs_overview(state.store, state.engine, job, limit)
    failed = {r.job for r in data.runs if r.status != "ok"}
    return render(
        request,
        state,
        "jobs.html",
        {"nav": "jobs", "d": data, "job": job, "failed": failed},
        principal=principal,
    )
