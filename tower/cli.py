"""The ``tower`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tower import runtime
from tower.agent import agent_app
from tower.alerts_cli import alerts_app
from tower.audit_cli import audit_command
from tower.settings import dump_yaml, masked
from tower.users import users_app

app = typer.Typer(
    name="tower",
    help="Order Control Tower: trace every order hop across ERP, EDI, WMS and carriers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect settings.", no_args_is_help=True)
app.add_typer(config_app, name="config")
bench_app = typer.Typer(help="Benchmarks that print JSON.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(users_app, name="users")
app.add_typer(agent_app, name="agent")
app.add_typer(alerts_app, name="alerts")
app.command("audit")(audit_command)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (also TOWER_CONFIG).", envvar="TOWER_CONFIG"),
]


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Create the database and apply pending schema migrations (safe to run again)."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower migrate", migrate_first=False) as store:
        try:
            applied = runtime.migrate_store(store)
        except runtime.MigrationError as exc:
            runtime.fail(str(exc))
        if applied:
            typer.echo(f"applied {len(applied)} migration(s) to {store.database}: " + ", ".join(applied))
        else:
            typer.echo(f"database {store.database} is up to date")


@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    settings = runtime.settings_or_exit(config)
    data = masked(settings)
    typer.echo(json.dumps(data, indent=2) if as_json else dump_yaml(data), nl=not as_json)


@app.command()
def serve(
    config: ConfigOption = None,
    roles: Annotated[
        str, typer.Option("--roles", help="Comma-separated roles: collector, web, scheduler.")
    ] = "collector,web,scheduler",
) -> None:
    """Run the tower: OTLP collector, dashboard and scheduled jobs, in one process by default."""
    from tower.serve import ROLES, run

    chosen = [r.strip() for r in roles.split(",") if r.strip()]
    unknown = [r for r in chosen if r not in ROLES]
    if unknown:
        runtime.fail(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    settings = runtime.settings_or_exit(config)
    runtime.configure_logging(settings.log_level)
    with runtime.store_or_exit(settings, f"tower serve --roles {','.join(chosen)}") as store:
        run(settings, store, chosen)


@app.command()
def trace(
    key: Annotated[
        str,
        typer.Argument(
            help="Any key: order number, PO, EDI control number, shipment, tracking or invoice number."
        ),
    ],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches and timelines as JSON.")] = False,
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            help="Ask a running tower's API (default: the store, or the API of the tower holding it).",
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="API token for --api.", envvar="TOWER_API_TOKEN")
    ] = None,
    max_orders: Annotated[
        int, typer.Option("--max-orders", min=1, help="Timelines to show when a key matches several orders.")
    ] = 5,
) -> None:
    """Show an order's journey across every system: hops, waits at handoffs, state. Exit 1 when nothing matches."""
    from tower.trace import run as run_trace

    settings = runtime.settings_or_exit(config)
    raise typer.Exit(run_trace(settings, key, as_json=as_json, api=api, token=token, max_orders=max_orders))


@bench_app.command("ingest")
def bench_ingest(
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="How long the clients send.")] = 10.0,
    clients: Annotated[int, typer.Option("--clients", min=1, help="Concurrent OTLP/HTTP clients.")] = 4,
    spans_per_request: Annotated[int, typer.Option("--spans-per-request", min=1)] = 500,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Where the fresh stores go. Default: a temp dir.")
    ] = None,
) -> None:
    """OTLP/HTTP ingest throughput of a collector process on a fresh embedded store (JSON)."""
    from tower.bench_ingest import run_bench

    result = run_bench(
        seconds=seconds, clients=clients, spans_per_request=spans_per_request, work_dir=work_dir
    )
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("query")
def bench_query(
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
) -> None:
    """Key lookup, timeline and trace-by-id latency (p50/p95/p99) on generated spans (JSON)."""
    from tower.bench_query import run_bench as run_query_bench

    try:
        result = run_query_bench(
            spans=spans,
            samples=samples,
            seed=seed,
            data_dir=data_dir,
            keep=keep,
            merged=merge,
            reuse=reuse,
        )
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("alerts")
def bench_alerts(
    spans: Annotated[int, typer.Option("--spans", min=10, help="Spans to generate.")] = 1_000_000,
    samples: Annotated[int, typer.Option("--samples", min=2, help="Evaluations per signal.")] = 20,
    groups: Annotated[int, typer.Option("--groups", min=1, help="Alert groups to dispatch.")] = 200,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="New directory for the store. Default: a temp dir.")
    ] = None,
) -> None:
    """Alert signal evaluation latency and notification throughput on generated spans (JSON)."""
    from tower.bench_alerts import run_bench as run_alerts_bench

    try:
        result = run_alerts_bench(spans=spans, samples=samples, groups=groups, data_dir=data_dir)
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("web")
def bench_web(
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
    from tower.bench_web import run_bench as run_web_bench

    try:
        result = run_web_bench(
            spans=spans, samples=samples, seed=seed, data_dir=data_dir, keep=keep, reuse=reuse
        )
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("kpis")
def bench_kpis(
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
            "--via", help="hops: write order_hops directly; spans: through otel_traces and its views."
        ),
    ] = "hops",
) -> None:
    """KPI jobs: full recompute of N orders over D days, then an incremental run after M new orders (JSON)."""
    from tower.bench_kpis import run_bench as run_kpis_bench

    if via not in ("hops", "spans"):
        runtime.fail(f"--via must be hops or spans, got {via!r}")
    try:
        result = run_kpis_bench(
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


def _register_kpis_commands() -> None:
    from tower.kpis_command import kpis_app

    app.add_typer(kpis_app, name="kpis")


_register_kpis_commands()


@bench_app.command("edi")
def bench_edi(
    files: Annotated[int, typer.Option("--files", min=1, help="850 interchanges to generate.")] = 200,
    orders: Annotated[int, typer.Option("--orders", min=1, help="Purchase orders per interchange.")] = 20,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Where files and the fresh store go. Default: a temp dir."),
    ] = None,
) -> None:
    """EDI X12 agent throughput (parse-only and end to end into a real collector and store) as JSON."""
    from tower.bench_agents import run_bench as run_edi_bench

    typer.echo(json.dumps(run_edi_bench(files=files, orders=orders, work_dir=work_dir), indent=2))


def _register_simulator_commands() -> None:
    from tower.bench_simulator import bench_simulator_command
    from tower.demo import demo_command
    from tower.simulate import simulate_command

    app.command("simulate")(simulate_command)
    app.command("demo")(demo_command)
    bench_app.command("simulator")(bench_simulator_command)


_register_simulator_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
