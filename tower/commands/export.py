"""``tower export ocel|xes``: the orders of a time range for process-mining tools (OCEL 2.0, XES).

While a ``tower serve`` holds the embedded store, the export comes from that server's API
(``/api/process/export/...``, streamed to the output as it arrives), as ``tower trace`` does.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from kpis.process.filters import FilterError, ProcessFilter, make_filter
from storage import Store
from tower import runtime
from tower.commands.options import ConfigOption, TokenOption
from tower.commands.remote import Api, ApiError, store_or_api

app = typer.Typer(name="export", help="Process-mining exports (OCEL 2.0, XES).", no_args_is_help=True)

FromOption = Annotated[
    str, typer.Option("--from", help="Orders whose first hop started at or after this UTC time.")
]
ToOption = Annotated[str, typer.Option("--to", help="... and before this UTC time (at most 400 days later).")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="File to write (default: standard output).")
]
ChannelOption = Annotated[str, typer.Option("--channel", help="Only this order.channel.")]
RegionOption = Annotated[str, typer.Option("--region", help="Only this order.region.")]
ErpOption = Annotated[str, typer.Option("--erp", help="Only this ERP instance.")]
WarehouseOption = Annotated[str, typer.Option("--warehouse", help="Only this warehouse.id.")]
TierOption = Annotated[str, typer.Option("--customer-tier", help="Only this customer.tier.")]


def _moment(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if "T" in value or " " in value else None
        if parsed is None:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        runtime.fail(
            f"{option} {value!r} is not an ISO date or date-time (e.g. 2026-03-02 or 2026-03-02T08:00)"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filter(start: str, end: str, **segment: str) -> ProcessFilter:
    try:
        return make_filter(start=_moment(start, "--from"), end=_moment(end, "--to"), **segment)
    except FilterError as exc:
        runtime.fail(str(exc).replace("start:", "--from:").replace("end:", "--to:"))


# an export of a million orders takes minutes; a sqlite file is built before its first byte is sent
EXPORT_TIMEOUT_S = 1800.0


def _api_params(flt: ProcessFilter, **extra: str) -> dict[str, str]:
    params = {"start": flt.start.isoformat(), "end": flt.end.isoformat(), **extra}
    for name in ("channel", "region", "erp", "warehouse", "customer_tier"):
        value = getattr(flt, name)
        if value:
            params[name] = value
    return params


def _download(api: Api, path: str, params: dict[str, str], output: Path | None) -> None:
    """The export from the serving tower's API, into ``output`` (a partial file is removed)."""
    try:
        with _target(output) as out:
            api.download(path, params, out)
    except ApiError as exc:
        if output is not None:
            output.unlink(missing_ok=True)
        runtime.fail(str(exc))


def _target(output: Path | None) -> BinaryIO | nullcontext[BinaryIO]:
    if output is None:
        return nullcontext(sys.stdout.buffer)
    try:
        return output.open("wb")
    except OSError as exc:
        runtime.fail(f"cannot write {output}: {exc.strerror}")


@app.command("ocel")
def ocel_command(
    start: FromOption,
    end: ToOption,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, xml or sqlite (sqlite needs --output).")
    ] = "json",
    output: OutputOption = None,
    channel: ChannelOption = "",
    region: RegionOption = "",
    erp: ErpOption = "",
    warehouse: WarehouseOption = "",
    customer_tier: TierOption = "",
    config: ConfigOption = None,
    token: TokenOption = None,
) -> None:
    """OCEL 2.0 object-centric event log: orders, POs, shipments, tracking numbers, invoices, EDI
    interchanges and transaction sets, batches; events are the hops (docs/conventions.md)."""
    from kpis.process import ocel
    from kpis.process.paths import refresh_paths

    if fmt not in ocel.FORMATS:
        runtime.fail(f"unknown --format {fmt!r}; formats: {', '.join(ocel.FORMATS)}")
    if fmt == "sqlite" and output is None:
        runtime.fail("--format sqlite writes a database file: give --output")
    flt = _filter(
        start, end, channel=channel, region=region, erp=erp, warehouse=warehouse, customer_tier=customer_tier
    )
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower export ocel", token, timeout=EXPORT_TIMEOUT_S) as store:
        if isinstance(store, Api):
            _download(store, "/api/process/export/ocel", _api_params(flt, format=fmt), output)
            return
        assert isinstance(store, Store)
        refresh_paths(store)  # orders whose spans arrived since the scheduler last ran are included
        if fmt == "sqlite":
            assert output is not None
            ocel.write_sqlite(store, flt, output)
            return
        with _target(output) as out:
            ocel.export(store, flt, fmt, out)


@app.command("xes")
def xes_command(
    start: FromOption,
    end: ToOption,
    output: OutputOption = None,
    channel: ChannelOption = "",
    region: RegionOption = "",
    erp: ErpOption = "",
    warehouse: WarehouseOption = "",
    customer_tier: TierOption = "",
    config: ConfigOption = None,
    token: TokenOption = None,
) -> None:
    """XES event log for case-centric tools: one trace per order, its hops as events."""
    from kpis.process import ocel
    from kpis.process.paths import refresh_paths

    flt = _filter(
        start, end, channel=channel, region=region, erp=erp, warehouse=warehouse, customer_tier=customer_tier
    )
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower export xes", token, timeout=EXPORT_TIMEOUT_S) as store:
        if isinstance(store, Api):
            _download(store, "/api/process/export/xes", _api_params(flt), output)
            return
        assert isinstance(store, Store)
        refresh_paths(store)
        with _target(output) as out:
            ocel.write_xes(store, flt, out)
