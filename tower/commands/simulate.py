"""``tower simulate``: the distributor simulator against any OTLP/HTTP endpoint (load-test your tower).

Backfills ``--days`` of history (``--orders`` orders) as fast as the endpoint accepts it, then, with
``--live``, keeps sending new orders (and the later hops of orders still in flight) as they happen.
Prints a JSON summary at the end.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlparse

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from storage.errors import TowerError
from tracing import conventions as c
from tracing.records import SpanRecord
from tracing.simulator import ExceptionRates, Simulator, SimulatorConfig
from tracing.sinks import OtlpSink, SinkError


class Protocol(StrEnum):
    HTTP = "http"
    GRPC = "grpc"


DEFAULT_URLS = {Protocol.HTTP: "http://127.0.0.1:4318", Protocol.GRPC: "http://127.0.0.1:4317"}

__all__ = ["KeySamples", "LiveStatus", "backfill", "live", "parse_rates", "run"]


class SimulateError(TowerError, RuntimeError):
    """Bad options or an endpoint that does not take the spans; the message says which."""


def parse_rates(values: Iterable[str]) -> ExceptionRates:
    """``["credit_hold=0.1", "duplicate=0"]`` -> ExceptionRates, with a clear error for bad input."""
    known = ExceptionRates.names()
    rates: dict[str, float] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise SimulateError(
                f"--rate expects NAME=VALUE with NAME one of {', '.join(known)}; got {item!r}"
            )
        try:
            rates[name] = float(raw)
        except ValueError:
            raise SimulateError(f"--rate {name} needs a number between 0 and 1, got {raw!r}") from None
    try:
        return ExceptionRates(**rates)
    except ValueError as exc:
        raise SimulateError(str(exc)) from None


@dataclass
class KeySamples:
    """Keys of a few orders seen while sending, to show users where to look."""

    by_order: dict[str, dict[str, str]] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)
    _limit: int = 5000

    def observe(self, records: Iterable[SpanRecord]) -> Iterator[SpanRecord]:
        for record in records:
            attrs = record.attributes
            order = attrs.get(c.ORDER_ID)
            if isinstance(order, str) and (order in self.by_order or len(self.by_order) < self._limit):
                keys = self.by_order.setdefault(order, {c.ORDER_ID: order})
                for name in c.KEY_ATTRIBUTES:
                    value = attrs.get(name)
                    if isinstance(value, str) and name not in keys and name != c.BATCH_ID:
                        keys[name] = value
                channel = attrs.get(c.CHANNEL)
                if isinstance(channel, str):
                    self.channels[order] = channel
                if record.name == "delivery":
                    self.delivered.append(order)
            yield record

    def pick(self) -> list[tuple[str, str, str]]:
        """(key type, key, order id) for a delivered EDI order with many keys and an ecommerce order."""
        rows: list[tuple[str, str, str]] = []

        def richness(order: str) -> int:
            return len(self.by_order.get(order, {}))

        # delivered orders show the whole journey; early in a short history, any order will do
        delivered = list(dict.fromkeys(reversed(self.delivered))) or sorted(
            self.by_order, key=richness, reverse=True
        )
        edi = sorted((o for o in delivered if self.channels.get(o) == "edi"), key=richness, reverse=True)
        web = [o for o in delivered if self.channels.get(o) == "ecommerce"]
        for order in edi[:1] or delivered[:1]:
            for key_type, key in self.by_order[order].items():
                rows.append((key_type, key, order))
        for order in web[:1]:
            keys = self.by_order[order]
            for key_type in (c.ORDER_ECOMMERCE_ID, c.SHIPMENT_TRACKING_NUMBER):
                if key_type in keys:
                    rows.append((key_type, keys[key_type], order))
        return rows


@contextmanager
def _progress(console: Console, total: int, enabled: bool) -> Iterator[Any]:
    progress = Progress(
        TextColumn("[bold]backfill[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("orders"),
        TextColumn("{task.fields[spans]:,} spans sent"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
    with progress:
        task = progress.add_task("backfill", total=max(total, 1), spans=0)

        def update(orders: int, spans: int) -> None:
            progress.update(task, completed=min(orders, total), spans=spans)

        yield update
        progress.update(task, completed=total)


def backfill(
    simulator: Simulator,
    sink: OtlpSink,
    *,
    console: Console,
    show_progress: bool = True,
    samples: KeySamples | None = None,
    now_ns: int | None = None,
    chunk: int = 2048,
) -> int:
    """Send the history (spans that have ended by now); returns spans sent."""
    total = simulator.config.orders
    buffer: list[SpanRecord] = []
    sent = 0
    records: Iterable[SpanRecord] = simulator.backfill(now_ns)
    if samples is not None:
        records = samples.observe(records)
    with _progress(console, total, show_progress) as update:
        for record in records:
            buffer.append(record)
            if len(buffer) >= chunk:
                sent += sink.send(buffer)
                buffer.clear()
                update(simulator.orders_generated, sent)
        if buffer:
            sent += sink.send(buffer)
        update(total, sent)
    return sent


class LiveStatus:
    """One line a minute while live: orders so far, spans sent, orders still in flight."""

    def __init__(self, console: Console, simulator: Simulator, every_s: float = 60.0) -> None:
        self.console = console
        self.simulator = simulator
        self.every_s = every_s
        self.started = self.last = time.monotonic()

    def __call__(self, sent: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return
        self.last = now
        self.console.print(
            f"live {now - self.started:,.0f}s: {self.simulator.orders_generated:,} orders in total, "
            f"{sent:,} live spans sent, {self.simulator.pending:,} spans still to come"
        )


def live(
    simulator: Simulator,
    sink: OtlpSink,
    stop: threading.Event,
    *,
    tick_s: float = 1.0,
    samples: KeySamples | None = None,
    on_tick: Any = None,
) -> int:
    """Send new traffic every ``tick_s`` seconds until ``stop`` is set; returns spans sent."""
    sent = 0
    while not stop.wait(tick_s):
        records: Iterable[SpanRecord] = simulator.advance()
        if samples is not None:
            records = list(samples.observe(records))
        sent += sink.send(records)
        if on_tick is not None:
            on_tick(sent)
    return sent


def run(
    *,
    url: str,
    token: str | None,
    config: SimulatorConfig,
    live_mode: bool,
    batch_size: int,
    duration_s: float | None,
    show_progress: bool,
    timeout_s: float = 10.0,
    protocol: str = "http",
) -> dict[str, Any]:
    """What ``tower simulate`` does; returns the summary it prints."""
    console = Console(stderr=True)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SimulateError(f"--url must be an http(s) URL of an OTLP endpoint, got {url!r}")
    sink = OtlpSink(endpoint=url, token=token, batch_size=batch_size, timeout_s=timeout_s, protocol=protocol)
    simulator = Simulator(config)
    started = time.perf_counter()
    try:
        spans = backfill(simulator, sink, console=console, show_progress=show_progress)
        backfill_s = time.perf_counter() - started
        live_spans = 0
        if live_mode:
            stop = threading.Event()
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda *_: stop.set())
            if duration_s is not None:
                threading.Timer(duration_s, stop.set).start()
            console.print(
                f"sending live traffic to {url} ({config.live_orders_per_hour:g} orders/hour); Ctrl-C stops"
            )
            live_spans = live(simulator, sink, stop, on_tick=LiveStatus(console, simulator))
    except SinkError as exc:
        raise SimulateError(
            f"{url} did not accept the spans: {exc} (is a tower collector listening there?)"
        ) from None
    finally:
        sink.close()
    return {
        "endpoint": url,
        "protocol": protocol,
        "orders": config.orders,
        "days": config.days,
        "seed": config.seed,
        "id_offset": config.id_offset,
        "spans_backfilled": spans,
        "backfill_seconds": round(backfill_s, 3),
        "spans_per_second": round(spans / backfill_s, 1) if backfill_s > 0 else None,
        "spans_live": live_spans,
        "spans_in_flight": simulator.pending,
    }


def print_summary(summary: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


# -- the command ----------------------------------------------------------------------------------


app = typer.Typer()


@app.command("simulate")
def simulate_command(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="OTLP endpoint of a tower collector: http://host:4318 (/v1/traces is added) or, with "
            "--protocol grpc, http://host:4317. Default: the local tower's port for the protocol.",
        ),
    ] = None,
    protocol: Annotated[
        Protocol,
        typer.Option(
            "--protocol",
            help="OTLP over HTTP (protobuf) or gRPC (gzip-compressed); the collector's answer is read, rejected spans are an error.",
        ),
    ] = Protocol.HTTP,
    token: Annotated[
        str | None, typer.Option("--token", envvar="TOWER_OTLP_TOKEN", help="Bearer token for ingest.")
    ] = None,
    orders: Annotated[int, typer.Option("--orders", min=0, help="Orders over the history window.")] = 1000,
    days: Annotated[float, typer.Option("--days", min=0.01, help="Days of history to backfill.")] = 30.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same orders.")] = 7,
    id_offset: Annotated[
        int,
        typer.Option(
            "--id-offset",
            min=0,
            help="Added to every order, shipment, invoice and EDI number: give simulators sending to one "
            "tower different offsets (e.g. 1000000) so their keys never collide.",
        ),
    ] = 0,
    rate: Annotated[
        list[str] | None,
        typer.Option(
            "--rate",
            help="Exception rate NAME=VALUE (0..1), repeatable: " + ", ".join(ExceptionRates.names()) + ".",
        ),
    ] = None,
    live_mode: Annotated[
        bool, typer.Option("--live/--backfill-only", help="Keep sending live traffic after the backfill.")
    ] = False,
    live_rate: Annotated[
        float, typer.Option("--live-rate", min=0, help="New orders per hour while live.")
    ] = 120.0,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Stop live traffic after this many seconds.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Spans per OTLP request.")] = 512,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds the exporter keeps retrying one request.")
    ] = 10.0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--end",
            formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"],
            help="End of the history window (ISO 8601, UTC unless an offset is given). Default: now. "
            "The same --seed and --end send the same spans.",
        ),
    ] = None,
) -> None:
    """Run the distributor simulator against any OTLP endpoint: backfill history, optionally stay live."""
    from tower import runtime

    if end is not None and live_mode:
        runtime.fail("--end replays a fixed history window; it cannot be combined with --live")
    try:
        config = SimulatorConfig(
            seed=seed,
            orders=orders,
            days=days,
            end=end if end is None or end.tzinfo else end.replace(tzinfo=UTC),
            rates=parse_rates(rate or []),
            live_orders_per_hour=live_rate,
            id_offset=id_offset,
        )
        summary = run(
            url=url or DEFAULT_URLS[protocol],
            protocol=protocol.value,
            token=token,
            config=config,
            live_mode=live_mode,
            batch_size=batch_size,
            duration_s=duration,
            show_progress=progress and sys.stderr.isatty(),
            timeout_s=timeout,
        )
    except (SimulateError, ValueError) as exc:
        runtime.fail(str(exc))
    print_summary(summary)
