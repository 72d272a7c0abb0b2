"""``tower demo``: ``tower serve`` on a fresh embedded store, fed by the distributor simulator.

The roles run in this process (the embedded store allows one process); the simulator sends real OTLP
to the collector role over HTTP, shows a progress bar while it backfills the history, prints a few
order keys of different types (and the dashboard URL and a demo login when the web role runs), then
keeps live traffic flowing until Ctrl-C.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kpis.policy import Policy
from storage import Store
from storage.lock import announce
from tower import runtime
from tower.commands.options import ConfigOption
from tower.commands.simulate import KeySamples, LiveStatus, backfill, live
from tower.roles import Service, build_services
from tower.settings import TowerSettings
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import OtlpSink, SinkError

DEMO_USER = "demo"
DEMO_RULES = Path(__file__).resolve().parent.parent / "demo_rules.yaml"
DEMO_MARKER = "TOWER_DEMO"
_PORT_HINT = {
    "collector": "(set collector.http_port/grpc_port, e.g. TOWER_COLLECTOR__HTTP_PORT=0 for any free port)",
    "web": "(set web.port, e.g. TOWER_WEB__PORT=0 for any free port)",
}


@dataclass
class DemoOptions:
    orders: int = 3000
    days: float = 30.0
    seed: int = 7
    live: bool = True
    exit_after_backfill: bool = False
    live_orders_per_hour: float = 60.0
    duration_s: float | None = None
    progress: bool = True


def run(settings: TowerSettings, options: DemoOptions, console: Console | None = None) -> int:
    """Run the demo; returns the exit code."""
    console = console or Console()
    if not settings.storage.embedded:
        runtime.fail("tower demo runs on a fresh embedded store; unset storage.dsn (TOWER_STORAGE__DSN)")
    policy = runtime.policy_or_exit(settings)
    with_demo_rules(settings)
    _claim(Path(settings.storage.data_dir))
    with runtime.store_or_exit(settings, "tower demo", migrate_first=False) as store:
        _fresh(store, settings)
        runtime.migrate_store(store)
        services = build_services(settings, store, policy, ["collector", "web", "scheduler"])
        started: list[Service] = []
        stop = threading.Event()
        try:
            for service in services:
                try:
                    service.start()
                except (OSError, RuntimeError) as exc:
                    runtime.fail(
                        f"the {service.name} role could not start: {exc} {_PORT_HINT.get(service.name, '')}"
                    )
                started.append(service)
            collector = next((s for s in started if s.name == "collector"), None)
            if collector is None:
                runtime.fail("the collector role is not available in this build")
            web = next((s for s in started if s.name == "web"), None)
            dashboard = getattr(web, "url", None) if web is not None else None
            if dashboard and store.data_path is not None:
                announce(store.data_path, api_url=dashboard)
            login = _demo_login(store, settings) if web is not None else None
            return _feed(settings, options, store, collector, dashboard, login, console, stop, policy)
        finally:
            for service in reversed(started):
                try:
                    service.stop()
                except Exception as exc:  # keep stopping the others
                    console.print(f"[red]stopping {service.name} failed: {exc}[/]")


def with_demo_rules(settings: TowerSettings) -> Path:
    """Use the demo's alert rules (``tower/demo_rules.yaml``) unless a rules file is configured, so
    the alerts pages show alerts on the simulator's data; returns the rules file in force."""
    if settings.alerts.rules_file is None:
        settings.alerts = settings.alerts.model_copy(update={"rules_file": DEMO_RULES})
    assert settings.alerts.rules_file is not None
    return settings.alerts.rules_file


def _claim(data_dir: Path) -> None:
    """Refuse a data dir that holds anything the demo did not create (the demo empties its store)."""
    marker = data_dir / DEMO_MARKER
    if data_dir.is_dir() and any(data_dir.iterdir()) and not marker.is_file():
        runtime.fail(
            f"{data_dir} holds data that tower demo did not create, and the demo empties its store at "
            "every start; choose another --data-dir (default: ./.tower-demo)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("created by tower demo, which empties this store at every start\n", encoding="utf-8")


def _fresh(store: Store, settings: TowerSettings) -> None:
    """Start from nothing: drop the demo database and the collector spool (we hold the data-dir lock)."""
    store.drop_database()
    spool = settings.collector.spool_dir or Path(settings.storage.data_dir) / "spool"
    if spool.is_dir():
        shutil.rmtree(spool)


@dataclass(frozen=True)
class DemoLogin:
    user: str
    password: str
    token: str | None  # a viewer API token, so `tower trace` can ask the running demo


def _demo_login(store: Store, settings: TowerSettings) -> DemoLogin | None:
    """A fresh admin login (and API token) for the dashboard; the database is new, so are they."""
    try:
        from web.accounts import Accounts
        from web.settings import Role
    except ImportError:  # dashboard without accounts in this build
        return None
    password = secrets.token_urlsafe(12)
    accounts = Accounts(store, settings.web)
    accounts.add_user(DEMO_USER, password, Role.ADMIN, replace=True)
    try:
        token: str | None = accounts.create_token("tower demo", Role.VIEWER, DEMO_USER).token
    except Exception:  # tokens are a convenience here
        token = None
    return DemoLogin(DEMO_USER, password, token)


def _endpoint(collector: Any, settings: TowerSettings) -> str:
    endpoint = getattr(collector, "http_endpoint", None)
    if isinstance(endpoint, str):
        return endpoint
    return f"http://{settings.collector.host}:{settings.collector.http_port}"


def _feed(
    settings: TowerSettings,
    options: DemoOptions,
    store: Store,
    collector: Any,
    dashboard: str | None,
    login: DemoLogin | None,
    console: Console,
    stop: threading.Event,
    policy: Policy,
) -> int:
    token = settings.collector.tokens[0].get_secret_value() if settings.collector.tokens else None
    endpoint = _endpoint(collector, settings)
    sink = OtlpSink(endpoint=endpoint, token=token, batch_size=512)
    config = SimulatorConfig(
        seed=options.seed,
        orders=options.orders,
        days=options.days,
        live_orders_per_hour=options.live_orders_per_hour,
    )
    simulator = Simulator(config)
    samples = KeySamples()
    console.print(
        f"tower demo: {options.orders:,} orders over {options.days:g} days -> collector {endpoint}, "
        f"store {store.data_path}"
    )
    began = time.perf_counter()
    try:
        spans = backfill(simulator, sink, console=console, show_progress=options.progress, samples=samples)
    except SinkError as exc:
        console.print(f"[red]the collector did not accept the backfill: {exc}[/]")
        return 1
    drained = getattr(collector, "wait_drained", None)
    if callable(drained):
        drained(60.0)
    rows = samples.pick()
    found = _wait_for_keys(store, [key for _, key, _ in rows], timeout_s=60.0)
    console.print(f"backfilled {spans:,} spans in {time.perf_counter() - began:.1f}s")
    _start_models(settings, store, policy, options, console, login)
    _print_where_to_look(console, rows, found, dashboard, login, Path(settings.storage.data_dir))
    if options.exit_after_backfill or not options.live:
        sink.close()
        return 0 if rows and all(found.values()) else 1
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    if options.duration_s is not None:
        timer = threading.Timer(options.duration_s, stop.set)
        timer.daemon = True
        timer.start()
    console.print(
        f"live traffic: about {options.live_orders_per_hour:g} new orders an hour. Ctrl-C stops the demo."
    )
    try:
        status = LiveStatus(console, simulator)
        sent = live(simulator, sink, stop, samples=samples, on_tick=status)
        console.print(f"demo stopped: {sent:,} live spans sent, {simulator.pending:,} still in flight")
    except SinkError as exc:
        console.print(f"[red]the collector stopped accepting spans: {exc}[/]")
        return 1
    finally:
        sink.close()
    return 0


MODEL_MIN_DAYS = 14  # training window, held-out window and time for outcomes, shortened for the demo


def _start_models(
    settings: TowerSettings,
    store: Store,
    kpi: Policy,
    options: DemoOptions,
    console: Console,
    login: DemoLogin | None,
) -> None:
    """Train the models on the backfilled history and approve them as the demo's admin, then score
    once, so the AI pages have something to show (the scheduler keeps scoring)."""
    if not settings.ai.enabled:
        return
    if options.days < MODEL_MIN_DAYS:
        console.print(
            f"models: {options.days:g} days of history are too few to train on (need {MODEL_MIN_DAYS})"
        )
        return
    from ai.policy import AiPolicy, Training
    from ai.registry import Registry
    from ai.scoring import Scorer
    from ai.training import train
    from kpis.jobs import KpiEngine

    policy = runtime.ai_policy_or_exit(settings)
    began = time.perf_counter()
    KpiEngine(store, kpi).run_all()
    days = int(options.days)
    short = AiPolicy(
        models=policy.models,
        training=Training(
            history_days=days - 10, holdout_days=5, label_maturity_days=4, retrain_every_days=0
        ),
        monitoring=policy.monitoring,
    )
    registry = Registry(store)
    admin = login.user if login is not None else DEMO_USER
    trained = []
    for result in train(store, kpi, short, actor="tower demo"):
        if result.version is None:
            console.print(f"models: {result.model} not trained: {result.error}")
            continue
        registry.approve(
            result.model, result.version.version, admin, "tower demo: approved at start by the demo's admin"
        )
        trained.append(result.model)
    written = Scorer(store, kpi, policy).run()
    console.print(
        f"models: trained and approved {', '.join(trained) or 'none'} in {time.perf_counter() - began:.0f}s; "
        f"{sum(max(n, 0) for n in written.values()):,} predictions (AI page: /ai)"
    )


def _wait_for_keys(store: Store, keys: list[str], timeout_s: float) -> dict[str, bool]:
    """Which of ``keys`` the key index knows, waiting up to ``timeout_s`` for all of them."""
    deadline = time.monotonic() + timeout_s
    found: set[str] = set()
    while True:
        rows = store.rows(
            "SELECT DISTINCT Key FROM order_keys WHERE Key IN {keys:Array(String)}", {"keys": keys}
        )
        found = {row["Key"] for row in rows}
        if found >= set(keys) or time.monotonic() > deadline:
            return {key: key in found for key in keys}
        time.sleep(0.25)


def _print_where_to_look(
    console: Console,
    rows: list[tuple[str, str, str]],
    found: dict[str, bool],
    dashboard: str | None,
    login: DemoLogin | None,
    data_dir: Path,
) -> None:
    table = Table(title="Look up an order by any of its keys", show_lines=False)
    table.add_column("key type", overflow="fold")
    table.add_column("key", overflow="fold")
    table.add_column("order")
    table.add_column("found")
    for key_type, key, order in rows:
        table.add_row(key_type, key, order, "yes" if found.get(key) else "[red]not yet[/]")
    console.print(table)
    if rows:
        token = f"TOWER_API_TOKEN={login.token} " if login is not None and login.token else ""
        key = rows[min(1, len(rows) - 1)][1]
        console.print(
            f"try:  {token}TOWER_STORAGE__DATA_DIR={data_dir} tower trace {key}",
            soft_wrap=True,
            highlight=False,
        )
    if dashboard:
        console.print(f"dashboard: {dashboard}", highlight=False)
        if login:
            console.print(f"log in as [bold]{login.user}[/] with password [bold]{login.password}[/]")


app = typer.Typer()


@app.command("demo")
def demo_command(
    config: ConfigOption = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo's embedded store lives (emptied at start).")
    ] = Path(".tower-demo"),
    orders: Annotated[int, typer.Option("--orders", min=1, help="Orders in the backfilled history.")] = 3000,
    days: Annotated[float, typer.Option("--days", min=0.01, help="Days of history.")] = 30.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same orders.")] = 7,
    live_mode: Annotated[
        bool, typer.Option("--live/--no-live", help="Keep live traffic flowing after the backfill.")
    ] = True,
    exit_after_backfill: Annotated[
        bool, typer.Option("--exit-after-backfill", help="Stop once the history is in and keys are printed.")
    ] = False,
    live_rate: Annotated[
        float,
        typer.Option(
            "--live-rate", min=0, help="New orders per hour while live (in-flight orders are held in memory)."
        ),
    ] = 60.0,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0, help="Stop the demo after this many seconds of live traffic."),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Run the tower on a fresh embedded store with the distributor simulator sending it real OTLP."""
    settings = runtime.settings_or_exit(config)
    settings.storage = settings.storage.model_copy(update={"data_dir": data_dir.resolve()})
    runtime.configure_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)
    options = DemoOptions(
        orders=orders,
        days=days,
        seed=seed,
        live=live_mode,
        exit_after_backfill=exit_after_backfill,
        live_orders_per_hour=live_rate,
        duration_s=duration,
        progress=progress,
    )
    raise typer.Exit(run(settings, options))
