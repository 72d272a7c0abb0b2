"""``tower agent edi|carrier|poller``: run one agent standalone (``tower serve`` runs the enabled
agents with its collector role, see :class:`tower.roles.CollectorWithAgents`).

Standalone agents send OTLP to ``--endpoint`` (default: the configured agent export endpoint, else
the local collector address from the settings) with ``--token``; they need no store.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from collector.agents.settings import ExportSettings
from tower import runtime
from tower.commands.options import ConfigOption

if TYPE_CHECKING:  # the agents (SQLAlchemy, uvicorn) load only when an agent runs
    from collector.agents.runtime import Agent

app = typer.Typer(
    name="agent",
    help="Run an agent for a system that cannot be instrumented (EDI files, carrier webhooks, DB pollers).",
    no_args_is_help=True,
)

EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="Collector base URL, e.g. http://127.0.0.1:4318.")
]
TokenOption = Annotated[
    str | None, typer.Option("--token", help="Collector bearer token.", envvar="TOWER_AGENT_TOKEN")
]
OnceOption = Annotated[bool, typer.Option("--once", help="Process what is there now, then exit.")]


def _export(base: ExportSettings, endpoint: str | None, token: str | None) -> ExportSettings:
    data: dict[str, Any] = base.model_dump()
    if endpoint:
        data["endpoint"] = endpoint
    if token:
        data["token"] = token
    return ExportSettings(**data)


M = TypeVar("M", bound=BaseModel)


def _with(model: M, update: dict[str, Any]) -> M:
    """``model`` with command-line overrides, validated like the config file (bad values fail clearly)."""
    try:
        return type(model).model_validate({**dict(model), **update})
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        runtime.fail("invalid value for " + "; ".join(problems))


def _run_until_signal(agent: Agent) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    agent.start()
    try:
        stop.wait()
    finally:
        agent.stop()


@app.command("edi")
def edi(
    config: ConfigOption = None,
    inbound: Annotated[
        list[Path] | None, typer.Option("--inbound", help="Inbound directory (repeat).")
    ] = None,
    outbound: Annotated[
        list[Path] | None, typer.Option("--outbound", help="Outbound directory (repeat).")
    ] = None,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
    settle: Annotated[
        float | None, typer.Option("--settle", help="Seconds a file must stay unchanged.")
    ] = None,
    once: OnceOption = False,
) -> None:
    """Watch directories for X12 interchanges (850/855/856/810/997) and send their hop spans."""
    from collector.agents import runtime as agents_runtime

    settings = runtime.settings_or_exit(config)
    runtime.configure_logging(settings.log_level)
    edi_settings = _with(
        settings.collector.agents.edi,
        {
            "inbound_dirs": inbound or settings.collector.agents.edi.inbound_dirs,
            "outbound_dirs": outbound or settings.collector.agents.edi.outbound_dirs,
            "export": _export(settings.collector.agents.edi.export, endpoint, token),
            **({"settle_s": settle} if settle is not None else {}),
        },
    )
    if not edi_settings.inbound_dirs and not edi_settings.outbound_dirs:
        runtime.fail("give --inbound and/or --outbound directories (or collector.agents.edi in the config)")
    missing = [str(d) for d in (*edi_settings.inbound_dirs, *edi_settings.outbound_dirs) if not d.is_dir()]
    if missing:
        runtime.fail(f"not a directory: {', '.join(missing)}")
    agent = agents_runtime.edi_agent(edi_settings, settings.storage.data_dir, *settings.local_collector())
    if once:
        report = agent.scan_once()
        agent.ledger.close()
        typer.echo(
            f"processed {len(report.processed)}, quarantined {len(report.quarantined)}, "
            f"waiting {len(report.waiting)}, failed {len(report.failed)}, spans {report.spans}"
        )
        raise typer.Exit(1 if report.failed else 0)
    _run_until_signal(agent)


@app.command("carrier")
def carrier(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (0 = any free port).")] = None,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
) -> None:
    """Serve the carrier tracking webhook and send a hop span per tracking event."""
    from collector.agents import runtime as agents_runtime
    from collector.agents.carrier import WebhookConfigError

    settings = runtime.settings_or_exit(config)
    runtime.configure_logging(settings.log_level)
    base = settings.collector.agents.carrier
    update: dict[str, Any] = {"export": _export(base.export, endpoint, token)}
    if host is not None:
        update["host"] = host
    if port is not None:
        update["port"] = port
    try:
        agent = agents_runtime.carrier_agent(
            _with(base, update), settings.storage.data_dir, *settings.local_collector()
        )
    except WebhookConfigError as exc:
        runtime.fail(str(exc))
    _run_until_signal(agent)


@app.command("poller")
def poller(
    config: ConfigOption = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Which configured poller (default: the first).")
    ] = None,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
    once: OnceOption = False,
) -> None:
    """Poll a SQL table or query (collector.agents.pollers in the config) and send hop spans."""
    from collector.agents import runtime as agents_runtime
    from collector.agents.poller import PollerConfigError

    settings = runtime.settings_or_exit(config)
    runtime.configure_logging(settings.log_level)
    pollers = settings.collector.agents.pollers
    chosen = [p for p in pollers if name is None or p.name == name]
    if not chosen:
        runtime.fail(f"no poller {name!r} in collector.agents.pollers" if name else "no poller configured")
    base = chosen[0]
    try:
        agent = agents_runtime.poller_agent(
            _with(base, {"export": _export(base.export, endpoint, token)}),
            settings.storage.data_dir,
            *settings.local_collector(),
        )
    except PollerConfigError as exc:
        runtime.fail(str(exc))
    if once:
        try:
            rows = agent.drain()
        finally:
            agent.engine.dispose()
        typer.echo(f"exported {rows} row(s); cursor {agent.cursor!r}")
        return
    _run_until_signal(agent)
