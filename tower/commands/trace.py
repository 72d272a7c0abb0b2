"""``tower trace <any key>``: find the order(s) behind a key and print their timelines.

Reads the store directly, or — when a ``tower serve`` holds the embedded store (or ``--api`` is
given) — asks the server's JSON API through :mod:`tower.commands.remote` (``GET /api/search?q=KEY`` and
``GET /api/orders/{order_id}/timeline``), whose responses are the models of :mod:`tracing.timeline`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from storage import Store
from storage.errors import TowerError
from tower import runtime
from tower.commands.options import ConfigOption
from tower.commands.remote import Api, ApiError, store_or_api
from tower.settings import TowerSettings

if TYPE_CHECKING:  # the crosswalk and timeline load when a lookup runs, not for every tower command
    from kpis.policy import Policy
    from tracing.timeline import OrderMatch, Timeline

NO_MATCH_EXIT = 1
BAR_WIDTH = 32


class TraceError(TowerError, RuntimeError):
    """The lookup could not be done (bad key, unreachable API); the message says why."""


@dataclass
class TraceResult:
    key: str
    matches: list[OrderMatch]
    timelines: list[Timeline]
    source: str  # "store" or the API URL

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "source": self.source,
            "matches": [m.model_dump(mode="json") for m in self.matches],
            "timelines": [t.model_dump(mode="json") for t in self.timelines],
        }


# -- lookups -------------------------------------------------------------------------------------


def lookup_in_store(store: Store, key: str, max_orders: int, policy: Policy | None = None) -> TraceResult:
    """Orders behind ``key`` and their timelines; with ``policy`` each timeline's SLAs are judged."""
    from kpis.order_sla import order_sla
    from tracing.timeline import CrosswalkError, OrderNotFound, find_orders, order_timeline, with_sla

    try:
        matches = find_orders(store, key)
        timelines = []
        for order in _distinct_orders(matches)[:max_orders]:
            try:
                timeline = order_timeline(store, order)
            except OrderNotFound:
                continue
            if policy is not None:
                timeline = with_sla(timeline, order_sla(store, policy, timeline))
            timelines.append(timeline)
    except CrosswalkError as exc:
        raise TraceError(str(exc)) from None
    return TraceResult(key.strip(), matches, timelines, "store")


def lookup_via_api(
    api_url: str, key: str, max_orders: int, token: str | None, timeout: float = 30.0
) -> TraceResult:
    """The same lookup through a running tower's JSON API."""
    with Api(api_url, token, timeout) as api:
        return _lookup_with(api, key, max_orders)


def _lookup_with(api: Api, key: str, max_orders: int) -> TraceResult:
    from tracing.timeline import OrderMatch, Timeline

    try:
        matches = TypeAdapter(list[OrderMatch]).validate_python(
            api.response("GET", "/api/search", params={"q": key.strip()})
        )
        timelines = []
        for order in _distinct_orders(matches)[:max_orders]:
            body = api.response("GET", f"/api/orders/{quote(order, safe='')}/timeline", missing_ok=True)
            if body is not None:
                timelines.append(Timeline.model_validate(body))
    except ApiError as exc:
        raise TraceError(str(exc)) from None
    except ValidationError as exc:
        raise TraceError(
            f"the tower API at {api.base} answered something that is not a timeline: {exc}"
        ) from None
    return TraceResult(key.strip(), matches, timelines, api.base)


def _distinct_orders(matches: list[OrderMatch]) -> list[str]:
    seen: list[str] = []
    for match in matches:
        if match.order_id not in seen:
            seen.append(match.order_id)
    return seen


def run(
    settings: TowerSettings,
    key: str,
    *,
    as_json: bool,
    api: str | None,
    token: str | None,
    max_orders: int,
) -> int:
    """The command: returns the exit code (0 found, 1 nothing matches, 2 cannot look up)."""
    try:
        if api:
            result = lookup_via_api(api, key, max_orders, token)
        else:
            result = _lookup_local(settings, key, max_orders, token)
    except TraceError as exc:
        runtime.fail(str(exc))
    if not result.matches:
        if as_json:
            print(json.dumps(result.as_json(), indent=2))
        print(
            f"tower: no order matches {result.key!r} (searched order numbers, customer POs, EDI control "
            "numbers, shipment ids, tracking numbers, invoice numbers and batch ids)",
            file=sys.stderr,
        )
        return NO_MATCH_EXIT
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        render(result, _console())
    return 0


def _lookup_local(settings: TowerSettings, key: str, max_orders: int, token: str | None) -> TraceResult:
    with store_or_api(settings, "tower trace", token) as source:
        if isinstance(source, Api):
            return _lookup_with(source, key, max_orders)
        return lookup_in_store(source, key, max_orders, _policy(settings))


def _policy(settings: TowerSettings) -> Policy | None:
    """The SLA policy, to say whether an order is late; None (and a note) when it cannot be read."""
    from kpis.policy import PolicyError, load_policy

    try:
        return load_policy(settings.kpis.policy_file)
    except PolicyError as exc:
        print(f"tower: SLAs not judged: invalid KPI policy: {exc}", file=sys.stderr)
        return None


# -- rendering -----------------------------------------------------------------------------------


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def duration(ns: int | None) -> str:
    """A duration for people: 850ms, 45s, 12m 05s, 3h 20m, 2d 4h."""
    if ns is None:
        return "-"
    seconds = ns / 1e9
    if seconds < 1:
        return f"{ns / 1e6:.0f}ms"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def render(result: TraceResult, console: Console) -> None:
    if len(result.matches) > 1 or result.matches[0].order_id != result.key:
        table = Table(title=f"Orders matching {result.key}", title_justify="left")
        for column in ("order", "found in", "via", "first seen", "last seen", "traces"):
            table.add_column(column)
        for m in result.matches:
            table.add_row(
                m.order_id,
                ", ".join(m.key_types),
                m.via,
                f"{m.first_seen:%Y-%m-%d %H:%M:%S}",
                f"{m.last_seen:%Y-%m-%d %H:%M:%S}",
                str(len(m.trace_ids)),
            )
        console.print(table)
    for timeline in result.timelines:
        render_timeline(timeline, console)
    shown = {t.order_id for t in result.timelines}
    rest = [m.order_id for m in result.matches if m.order_id not in shown]
    if rest:
        console.print(f"{len(set(rest))} more order(s) not shown; run tower trace <order id> for each.")


def render_timeline(t: Timeline, console: Console) -> None:
    state = t.state
    status = Text(state.status.upper(), style="green" if state.status == "complete" else "yellow")
    head = Text.assemble(
        ("Order ", "bold"),
        (t.order_id, "bold cyan"),
        "  ",
        status,
        f"  at {state.stage or '-'} in {state.system}",
        f" for {duration(state.age_ns)}" if state.age_ns is not None else "",
        f"  channel {t.channel}" if t.channel else "",
        f"  customer {t.customer}" if t.customer else "",
    )
    console.print()
    console.print(head)
    if state.status == "open" and state.holder:
        since = f" (held since {state.held_since:%Y-%m-%d %H:%M:%S} UTC)" if state.held_since else ""
        if state.activity == "working":
            console.print(f"now: {state.holder} is working on it{since}")
        else:
            what = f" for {state.waiting_for}" if state.waiting_for else ""
            console.print(
                Text(
                    f"now: waiting at {state.holder}{what} for {duration(state.idle_ns)}{since}",
                    style="yellow" if state.open_exceptions else "",
                )
            )
    if state.late is not None:
        at_risk = [s.sla for s in t.sla if s.state == "at_risk"]
        if state.late:
            late = "; ".join(
                f"{s.sla} {s.state}" + (f" (due {s.due:%Y-%m-%d %H:%M:%S} UTC)" if s.due else "")
                for s in t.sla
                if s.sla in state.late_slas
            )
            console.print(Text(f"LATE against its SLA: {late}", style="bold red"))
        else:
            console.print(
                "on time against its SLAs" + (f"; at risk: {', '.join(at_risk)}" if at_risk else "")
            )
    longest = t.longest_system
    console.print(
        f"cycle {duration(t.cycle_ns)} from {t.start:%Y-%m-%d %H:%M:%S} to {t.end:%Y-%m-%d %H:%M:%S} UTC; "
        f"waiting at handoffs {duration(t.waiting_ns)}; "
        + (
            f"held longest by {longest.system} ({duration(longest.held_ns)}, "
            f"{duration(longest.waiting_ns)} of it waiting)"
            if longest
            else "no hops"
        )
        + f"; {len(t.spans)} spans in {len(t.trace_ids)} traces"
    )
    table = Table(show_edge=False, pad_edge=False)
    for column, justify in (
        ("#", "right"),
        ("stage", "left"),
        ("system", "left"),
        ("start (UTC)", "left"),
        ("took", "right"),
        ("wait before", "right"),
        ("status", "left"),
        ("timeline", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    wait_before = {g.to_hop: g.duration_ns for g in t.gaps}
    span_ns = max(1, t.cycle_ns)
    start_ns = _ns(t.start)
    on_path = {s.hop for s in t.critical_path.segments if s.kind == "hop"}
    for hop in t.hops:
        offset = int((_ns(hop.start) - start_ns) / span_ns * BAR_WIDTH)
        width = max(1, int(hop.duration_ns / span_ns * BAR_WIDTH))
        offset = min(offset, BAR_WIDTH - 1)
        bar = Text(
            " " * offset + "█" * min(width, BAR_WIDTH - offset),
            style="red" if hop.status == "Error" else "cyan",
        )
        flags = []
        if hop.manual_touch:
            flags.append("manual")
        flags.extend(hop.exception_types)
        status_text = (
            hop.status
            + (f" ({hop.outcome})" if hop.outcome else "")
            + (f" [{', '.join(flags)}]" if flags else "")
        )
        table.add_row(
            str(hop.index) + ("*" if hop.index in on_path else ""),
            hop.stage,
            f"{hop.system} ({hop.system_kind})" if hop.system_kind else hop.system,
            f"{hop.start:%Y-%m-%d %H:%M:%S}",
            duration(hop.duration_ns),
            duration(wait_before[hop.index]) if hop.index in wait_before else "",
            Text(status_text, style="red" if hop.status == "Error" else ""),
            bar,
        )
    console.print(table)
    console.print("* on the critical path", style="dim")
    if t.gaps:
        worst = max(t.gaps, key=lambda g: g.duration_ns)
        console.print(
            f"longest handoff: {worst.from_system} ({worst.from_stage}) -> {worst.to_system} ({worst.to_stage}) "
            f"waited {duration(worst.duration_ns)}"
        )
    for err in t.errors:
        console.print(
            f"error {err.time:%Y-%m-%d %H:%M:%S} {err.system} {err.stage}: {err.message or err.name}",
            style="red",
        )
    for case in t.exception_cases:
        if case.open:
            console.print(f"exception {case.type} open since {case.opened:%Y-%m-%d %H:%M:%S}", style="yellow")
        else:
            console.print(f"exception {case.type} resolved after {duration(case.duration_ns)}")
    for touch in t.manual_touches:
        console.print(
            f"manual touch {touch.time:%Y-%m-%d %H:%M:%S} {touch.system} {touch.stage} {touch.user}".rstrip()
        )
    if t.keys:
        console.print("keys: " + "; ".join(f"{name} {', '.join(values)}" for name, values in t.keys.items()))


def _ns(value: Any) -> int:
    return int(value.timestamp() * 1_000_000) * 1000


# -- the command ------------------------------------------------------------------------------

app = typer.Typer()


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
    settings = runtime.settings_or_exit(config)
    raise typer.Exit(run(settings, key, as_json=as_json, api=api, token=token, max_orders=max_orders))
