"""``tower kpis run``: run the KPI and SLA jobs now, incrementally, for a time range, or in full."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from kpis.jobs import JOB_NAMES, JobResult, Window
from tower import runtime
from tower.commands.options import ConfigOption

app = typer.Typer(name="kpis", help="KPI and SLA jobs.", no_args_is_help=True)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if "T" in value or " " in value else None
        if parsed is None:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        runtime.fail(
            f"{option} {value!r} is not an ISO date or date-time (e.g. 2026-03-02 or 2026-03-02T08:00)"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("run")
def run_command(
    config: ConfigOption = None,
    job: Annotated[
        list[str] | None,
        typer.Option("--job", "-j", help=f"Job(s) to run (default: all in order): {', '.join(JOB_NAMES)}."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Re-run the orders and days with spans from this UTC time.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="... up to this UTC time (exclusive).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute everything.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="API token, used when a tower serve holds the store.", envvar="TOWER_API_TOKEN"
        ),
    ] = None,
) -> None:
    """Run the jobs now: incremental from each job's watermark, or --from/--to, or --full. Exit 1 on a failed job.

    When a ``tower serve`` holds the embedded store, the jobs run in that process, through its API."""
    from tower.commands.remote import Api, store_or_api
    from tower.scheduling import kpi_engine

    jobs = job or list(JOB_NAMES)
    unknown = [j for j in jobs if j not in JOB_NAMES]
    if unknown:
        runtime.fail(f"unknown job(s) {', '.join(unknown)}; jobs: {', '.join(JOB_NAMES)}")
    lower, upper = _moment(start, "--from"), _moment(end, "--to")
    if full and (lower or upper):
        runtime.fail("--full recomputes everything; leave out --from/--to")
    if lower and upper and not lower < upper:
        runtime.fail("--from must be before --to")
    settings = runtime.settings_or_exit(config)
    policy = runtime.policy_or_exit(settings)
    with store_or_api(settings, "tower kpis run", token, timeout=RUN_TIMEOUT_S) as store:
        if isinstance(store, Api):
            body = {"jobs": job or [], "full": full, "from": _iso(lower), "to": _iso(upper)}
            results = _parse(store.call("POST", "/api/jobs/run", json=body))
        else:
            engine = kpi_engine(settings, store, policy)
            try:
                if full:
                    results = engine.recompute(jobs=jobs)
                elif lower or upper:
                    window = Window(
                        start=lower or datetime(1970, 1, 1, tzinfo=UTC), end=upper or datetime.now(UTC)
                    )
                    results = engine.run_all(window, jobs)
                else:
                    results = engine.run_all(None, job or None)
            finally:
                engine.close()
    _print(results, as_json)
    if any(r.status != "ok" for r in results):
        raise typer.Exit(1)


RUN_TIMEOUT_S = 3600.0  # a full recompute of a large store runs for minutes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse(data: Any) -> list[JobResult]:
    """The serving tower's answer as job results (a clear error when it is something else)."""
    try:
        return [
            JobResult(
                str(r["job"]),
                str(r["mode"]),
                int(r["rows"]),
                float(r["duration_s"]),
                None,
                None,
                str(r["status"]),
                str(r["error"]),
            )
            for r in data
        ]
    except (KeyError, TypeError, ValueError) as exc:
        runtime.fail(f"the tower API sent something that is not job results: {exc!r}")


def _print(results: list[JobResult], as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "job": r.job,
                        "mode": r.mode,
                        "status": r.status,
                        "rows": r.rows,
                        "duration_s": round(r.duration_s, 3),
                        "error": r.error,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
        return
    for r in results:
        line = f"{r.job:<18} {r.mode:<11} {r.status:<6} rows={r.rows:<9} {r.duration_s:7.2f}s"
        typer.echo(line + (f"  {r.error}" if r.error else ""))
