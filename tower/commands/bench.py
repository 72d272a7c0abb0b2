"""``tower bench ...``: benchmarks that print JSON; the measuring code lives in :mod:`tower.bench`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tower import runtime

app = typer.Typer(name="bench", help="Benchmarks that print JSON.", no_args_is_help=True)

# the OTLP/HTTP load of `bench ingest` and `bench receiver`
Clients = Annotated[int, typer.Option("--clients", min=1, help="Concurrent OTLP/HTTP clients.")]
SpansPerRequest = Annotated[int, typer.Option("--spans-per-request", min=1)]


@app.command("ingest")
def ingest(
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="How long the clients send.")] = 10.0,
    clients: Clients = 4,
    spans_per_request: SpansPerRequest = 500,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Where the fresh stores go. Default: a temp dir.")
    ] = None,
    receivers: Annotated[
        int | None,
        typer.Option(
            "--receivers", min=0, help="Receiver processes (collector.receivers). Default: the setting."
        ),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the store it made (under --work-dir).")] = False,
) -> None:
    """OTLP/HTTP ingest of a collector on a fresh embedded store, distinct spans, 2x overload (JSON)."""
    from tower.bench.ingest import run_bench

    result = run_bench(
        seconds=seconds,
        clients=clients,
        spans_per_request=spans_per_request,
        work_dir=work_dir,
        receivers=receivers,
        keep=keep,
    )
    typer.echo(json.dumps(result, indent=2))


@app.command("receiver")
def receiver(
    requests: Annotated[int, typer.Option("--requests", min=1, help="Distinct requests sent.")] = 1000,
    clients: Clients = 4,
    spans_per_request: SpansPerRequest = 500,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Where the spool goes. Default: a temp dir.")
    ] = None,
) -> None:
    """One receiver process alone (no engine): its CPU per acknowledged span (JSON)."""
    from tower.bench.receiver import run_bench

    result = run_bench(
        requests=requests, clients=clients, spans_per_request=spans_per_request, work_dir=work_dir
    )
    typer.echo(json.dumps(result, indent=2))


@app.command("query")
def query(
    spans: Annotated[int, typer.Option("--spans", min=10, help="Spans to generate.")] = 10_000_000,
    samples: Annotated[int, typer.Option("--samples", min=2, help="Measurements per figure.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the orders sampled.")] = 7,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="New directory for the store. Default: a temp dir.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the generated store.")] = False,
    merge: Annotated[
        bool, typer.Option("--merge/--no-merge", help="Merge the read-side tables before measuring.")
    ] = True,
    reuse: Annotated[
        bool,
        typer.Option(
            "--reuse", help="Measure the store already in --data-dir (kept with --keep, same --spans)."
        ),
    ] = False,
    freshness_samples: Annotated[
        int,
        typer.Option(
            "--freshness-samples", min=0, help="Live single-span requests for the freshness lag (0: skip)."
        ),
    ] = 60,
) -> None:
    """Key lookup, timeline and trace-by-id latency (p50/p95/p99) on generated spans, and the lag
    from a live hop's acknowledgement to its timeline (JSON)."""
    from tower.bench.query import run_bench

    try:
        result = run_bench(
            spans=spans,
            samples=samples,
            seed=seed,
            data_dir=data_dir,
            keep=keep,
            merged=merge,
            reuse=reuse,
            freshness_samples=freshness_samples,
        )
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@app.command("alerts")
def alerts(
    spans: Annotated[int, typer.Option("--spans", min=10, help="Spans to generate.")] = 1_000_000,
    samples: Annotated[int, typer.Option("--samples", min=2, help="Evaluations per signal.")] = 20,
    groups: Annotated[int, typer.Option("--groups", min=1, help="Alert groups to dispatch.")] = 200,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="New directory for the store. Default: a temp dir.")
    ] = None,
) -> None:
    """Alert signal evaluation latency and notification throughput on generated spans (JSON)."""
    from tower.bench.alerts import run_bench

    try:
        result = run_bench(spans=spans, samples=samples, groups=groups, data_dir=data_dir)
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@app.command("web")
def web(
    spans: Annotated[int, typer.Option("--spans", min=10, help="Spans to generate.")] = 10_000_000,
    samples: Annotated[int, typer.Option("--samples", min=2, help="Requests per figure.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the orders sampled.")] = 7,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="New directory for the store. Default: a temp dir.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the generated store.")] = False,
    reuse: Annotated[
        bool, typer.Option("--reuse", help="Measure again on a store kept with --keep in --data-dir.")
    ] = False,
) -> None:
    """p50/p95/p99 latency of the timeline, KPI and exception pages and their JSON API (JSON)."""
    from tower.bench.web import run_bench

    try:
        result = run_bench(spans=spans, samples=samples, seed=seed, data_dir=data_dir, keep=keep, reuse=reuse)
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@app.command("kpis")
def kpis(
    orders: Annotated[
        int, typer.Option("--orders", min=1, help="Orders for the full recompute.")
    ] = 1_000_000,
    new_orders: Annotated[
        int, typer.Option("--new-orders", min=1, help="Orders arriving before the incremental run.")
    ] = 10_000,
    days: Annotated[int, typer.Option("--days", min=1, max=30, help="Days the orders span.")] = 30,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="New directory for the store. Default: a temp dir.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the generated store.")] = False,
    via: Annotated[
        str,
        typer.Option(
            "--via", help="hops: write order_spans directly; spans: through otel_traces and its views."
        ),
    ] = "hops",
) -> None:
    """KPI jobs: full recompute of N orders over D days, then an incremental run after M new orders (JSON)."""
    from tower.bench.kpis import run_bench

    if via not in ("hops", "spans"):
        runtime.fail(f"--via must be hops or spans, got {via!r}")
    try:
        result = run_bench(
            orders=orders,
            new_orders=new_orders,
            days=days,
            data_dir=data_dir,
            keep=keep,
            via=via,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@app.command("edi")
def edi(
    files: Annotated[int, typer.Option("--files", min=1, help="850 interchanges to generate.")] = 200,
    orders: Annotated[int, typer.Option("--orders", min=1, help="Purchase orders per interchange.")] = 20,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Where files and the fresh store go. Default: a temp dir."),
    ] = None,
    big_mib: Annotated[
        int,
        typer.Option(
            "--big-mib",
            min=0,
            help="Also send one file of this many MiB through `tower agent edi --once` in its own process "
            "and report its peak RSS (0: skip).",
        ),
    ] = 50,
) -> None:
    """EDI X12 agent throughput (parse-only and end to end into a real collector and store) as JSON."""
    from tower.bench.edi import run_bench

    typer.echo(
        json.dumps(run_bench(files=files, orders=orders, work_dir=work_dir, big_mib=big_mib), indent=2)
    )


@app.command("simulator")
def simulator(
    orders: Annotated[
        int, typer.Option("--orders", min=1, help="Orders generated and written directly.")
    ] = 20_000,
    days: Annotated[float, typer.Option("--days", min=0.01, help="Days of history they span.")] = 30.0,
    otlp_orders: Annotated[int, typer.Option("--otlp-orders", min=1, help="Orders sent over OTLP.")] = 2_000,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Where the temporary store goes. Default: a temp dir.")
    ] = None,
    fill_spans: Annotated[
        int,
        typer.Option(
            "--fill-spans",
            min=0,
            help="Also time fill_store (base history + copies in ClickHouse) to this many spans.",
        ),
    ] = 0,
) -> None:
    """Simulator throughput: spans generated/s, written to the store/s, and through OTLP/s (JSON)."""
    from tower.bench.simulator import run_bench

    figures = run_bench(orders, days, otlp_orders, work_dir, fill_spans)
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")


@app.command("process")
def process(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Orders to generate.")] = 1_000_000,
    days: Annotated[int, typer.Option("--days", min=1, max=300, help="Days the orders span.")] = 30,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Measurements of map + variants.")] = 5,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="New directory for the store. Default: a temp dir.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the generated store.")] = False,
    reuse: Annotated[
        bool,
        typer.Option(
            "--reuse", help="Measure the store kept in --data-dir by an earlier --keep run (never removed)."
        ),
    ] = False,
    export: Annotated[
        bool, typer.Option("--export/--no-export", help="Also export every order (each --format).")
    ] = True,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format", help="Export format, repeatable: json, xml, sqlite (OCEL 2.0), xes. Default: all."
        ),
    ] = None,
) -> None:
    """Process map + variants of N orders (target <= 3 s) and their OCEL 2.0 export (<= 60 s, <= 300 MiB RSS), JSON."""
    from tower.bench.process import EXPORT_FORMATS, run_bench

    unknown = sorted(set(formats or ()) - set(EXPORT_FORMATS))
    if unknown:
        runtime.fail(f"unknown --format {', '.join(unknown)}; formats: {', '.join(EXPORT_FORMATS)}")
    try:
        result = run_bench(
            orders=orders,
            days=days,
            repeat=repeat,
            data_dir=data_dir,
            keep=keep,
            reuse=reuse,
            export=export,
            formats=tuple(formats) if formats else EXPORT_FORMATS,
        )
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))
