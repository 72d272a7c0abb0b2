"""An independent recomputation of the KPIs with pandas over raw spans exported from ClickHouse.

Written from the definitions (README "KPIs and SLAs", docs/conventions.md), not from the SQL: spans
are read from otel_traces, exploded per order in Python, and aggregated with pandas.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from kpis.policy import Calendar, Policy, Sla
from storage import Store

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def raw_spans(store: Store) -> pd.DataFrame:
    """One row per (order, span) and per (order, exception event), from otel_traces.

    Spans are attributed to orders as docs/conventions.md ("Which spans belong to an order") says,
    implemented here from that text: a span belongs to the order its order.id names, else to each
    order its batch list names; a span naming no order belongs to the orders whose own spans carry
    one of its strong keys, to the orders named by spans linking to it and by spans it links to,
    (unless it carries a strong key or an EDI transaction-set number) to its parent's orders, and to
    the orders of its children that name them, carry their keys or hold them from their children.
    """
    rows = store.rows(
        "SELECT Timestamp, Duration, TraceId, SpanId, ParentSpanId, ServiceName, SpanAttributes AS a, "
        "ResourceAttributes AS r, StatusCode, `Events.Timestamp` AS ev_t, `Events.Attributes` AS ev_a, "
        "`Links.TraceId` AS l_t, `Links.SpanId` AS l_s FROM otel_traces"
    )
    by_ref = {(r["TraceId"], r["SpanId"]): r for r in rows}  # a re-sent span counts once
    orders_of: dict[tuple[str, str], set[str]] = {}
    owners: dict[tuple[str, str], set[str]] = {}  # strong key -> orders whose own spans carry it
    for ref, r in by_ref.items():
        named = _named(r["a"])
        if named:
            orders_of[ref] = set(named)
            for key in _strong_keys(r["a"]):
                owners.setdefault(key, set()).update(named)
    orderless = [ref for ref in by_ref if ref not in orders_of]
    found: dict[tuple[str, str], set[str]] = {ref: set() for ref in orderless}
    for ref, r in by_ref.items():
        for link in zip(r["l_t"], r["l_s"], strict=True):
            if ref in orders_of and link in found:  # a span naming orders links to this one
                found[link].update(orders_of[ref])
            if ref in found and link in orders_of:  # this one links to a span naming orders
                found[ref].update(orders_of[link])
    keyed: dict[tuple[str, str], set[str]] = {}
    for ref in orderless:
        keyed[ref] = {o for key in _strong_keys(by_ref[ref]["a"]) for o in owners.get(key, set())}
        found[ref] |= keyed[ref]
    changed = True
    while changed:  # unscoped spans inherit their parent's orders, down the tree
        changed = False
        for ref in orderless:
            r = by_ref[ref]
            if _scoped(r["a"]):
                continue
            parent = found.get((r["TraceId"], r["ParentSpanId"])) or orders_of.get(
                (r["TraceId"], r["ParentSpanId"])
            )
            if parent and not parent <= found[ref]:
                found[ref] |= parent
                changed = True
    out: list[dict[str, Any]] = []
    for ref, r in by_ref.items():
        a = r["a"]
        orders = sorted(orders_of.get(ref) or found.get(ref) or set())
        start = r["Timestamp"].replace(tzinfo=UTC)
        end = start + timedelta(microseconds=r["Duration"] / 1000)
        system = a.get("system.instance") or r["r"].get("system.instance") or r["ServiceName"]
        for order in orders:
            base = {
                "order": order,
                "span": r["SpanId"],
                "start": start,
                "end": end,
                "stage": a.get("order.stage", ""),
                "system": system,
                "kind": a.get("system.kind") or r["r"].get("system.kind", ""),
                "manual": a.get("order.manual_touch", "").lower() == "true" or bool(a.get("enduser.id")),
                "status": a.get("order.status", ""),
                "error": r["StatusCode"] == "Error",
                "channel": a.get("order.channel", ""),
                "priority": a.get("order.priority", ""),
                "tier": a.get("customer.tier", ""),
                "warehouse": a.get("warehouse.id", ""),
                "region": a.get("order.region", ""),
                "exc": a.get("order.exception.type", ""),
                "outcome": a.get("order.exception.outcome", ""),
                "event": False,
            }
            out.append(base)
            for ev_t, ev_a in zip(r["ev_t"], r["ev_a"], strict=True):
                if ev_a.get("order.exception.type"):
                    out.append(
                        {
                            **base,
                            "start": ev_t.replace(tzinfo=UTC),
                            "end": ev_t.replace(tzinfo=UTC),
                            "stage": "",
                            "manual": False,
                            "status": "",
                            "exc": ev_a["order.exception.type"],
                            "outcome": ev_a.get("order.exception.outcome", ""),
                            "event": True,
                        }
                    )
    return pd.DataFrame(out)


def _named(attributes: dict[str, str]) -> list[str]:
    if attributes.get("order.id"):
        return [attributes["order.id"]]
    batch = attributes.get("order.batch.order_ids", "")
    return [o for o in (json.loads(batch) if batch.startswith("[") else [batch]) if o]


def _scoped(attributes: dict[str, str]) -> bool:
    return bool(_strong_keys(attributes)) or bool(attributes.get("edi.transaction_set_control_number"))


CONVENTIONS = Path(__file__).resolve().parents[2] / "docs" / "conventions.md"


def strong_keys_from_conventions(text: str) -> tuple[str, ...]:
    """The keys that attribute a span naming no order, read from the conventions' key table: every
    attribute whose role is ``key (strong)``. Not the order ids themselves, nor the EDI envelope
    control numbers (weak: X12 makes them unique only inside their envelope, so alone they do not
    identify one order) or the transaction-set number (scope: it only keeps a span from inheriting)."""
    section = text.split("## The order and its business keys", 1)[1].split("\n## ", 1)[0]
    keys = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[2] == "key (strong)" and cells[0].startswith("`"):
            keys.append(cells[0].strip("`"))
    return tuple(keys)


STRONG_KEYS = strong_keys_from_conventions(CONVENTIONS.read_text(encoding="utf-8"))
assert STRONG_KEYS, f"no key table found in {CONVENTIONS}"


def _strong_keys(attributes: dict[str, str]) -> list[tuple[str, str]]:
    keys = []
    for name in STRONG_KEYS:
        value = attributes.get(name, "")
        for v in json.loads(value) if value.startswith("[") else [value]:
            if v:
                keys.append((name, v))
    return keys


def business_seconds(cal: Calendar, start: datetime, end: datetime) -> float:
    zone = ZoneInfo(cal.timezone)
    total = 0.0
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        span = cal.working_hours.get(WEEKDAYS[day.weekday()])
        if span and day not in cal.holidays:
            a, b = (time.fromisoformat(x) for x in span.split("-"))
            lo = max(start, datetime.combine(day, a, zone))
            hi = min(end, datetime.combine(day, b, zone))
            total += max((hi - lo).total_seconds(), 0.0)
        day += timedelta(days=1)
    return total


def after_cutoff(cal: Calendar, moment: datetime) -> datetime:
    """Work arriving after the cut-off on a working day counts from that day's closing time."""
    zone = ZoneInfo(cal.timezone)
    local = moment.astimezone(zone)
    span = cal.working_hours.get(WEEKDAYS[local.weekday()])
    cutoff = time.fromisoformat(cal.cutoff) if cal.cutoff else None
    if cutoff and span and local.date() not in cal.holidays and local.time() > cutoff:
        close = time.fromisoformat(span.split("-")[1])
        return max(moment, datetime.combine(local.date(), close, zone))
    return moment


def target_for(sla: Sla, segment: dict[str, str]) -> tuple[float, str | None]:
    for override in sla.overrides:
        if all(segment.get(k) == v for k, v in override.when.fields().items()):
            return override.target, override.calendar or sla.calendar
    return sla.target, sla.calendar


def orders_table(spans: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """One row per order with everything the KPIs need, computed with pandas."""
    hops = spans[(spans.stage != "") & ~spans.event]
    rows = []
    for order, g in spans.groupby("order"):
        h = hops[hops.order == order].sort_values(["start", "end"])
        allspan = g[~g.event].sort_values("start")

        def first(col: str, frame: pd.DataFrame = allspan) -> str:
            vals = frame[frame[col] != ""][col]
            return str(vals.iloc[0]) if len(vals) else ""

        stage_start = h.groupby("stage").start.min().to_dict()
        stage_end = h.groupby("stage").end.max().to_dict()
        capture = stage_start.get("capture", allspan.start.min())
        statuses = set(g.status) - {""}
        exc_types = set(g.exc) - {""}
        erp = h[h.kind == "erp"]
        seg = {
            "channel": first("channel"),
            "priority": first("priority"),
            "customer_tier": first("tier"),
            "warehouse": first("warehouse"),
            "region": first("region"),
        }
        row: dict[str, Any] = {
            "order": order,
            **seg,
            "erp": str(erp.sort_values("start").system.iloc[0]) if len(erp) else "",
            "capture": capture,
            "touched": bool(allspan.manual.any()),
            "cancelled": bool(statuses & set(policy.cancelled_statuses)),
            "closed": "invoice" in stage_end and not (statuses & set(policy.cancelled_statuses)),
            "cycle": (stage_end["ship"] - capture).total_seconds() if "ship" in stage_end else None,
            "invoice_latency": (stage_end["invoice"] - stage_end["ship"]).total_seconds()
            if "ship" in stage_end and "invoice" in stage_end
            else None,
            "exceptions": len(exc_types),
            "allocations": int((h.stage == "allocation").sum()),
            "allocation_ok": int((h.stage == "allocation").sum()) == 1
            and not statuses & set(policy.allocation.failure_statuses)
            and not exc_types & set(policy.allocation.failure_exceptions),
        }
        edges = {f"{k}.start": v for k, v in stage_start.items()} | {
            f"{k}.end": v for k, v in stage_end.items()
        }
        for sla in policy.slas:
            a, b = edges.get(f"{sla.start.stage}.{sla.start.at}"), edges.get(f"{sla.end.stage}.{sla.end.at}")
            target, cal_name = target_for(sla, seg)
            if a is None or b is None:
                row[f"sla_{sla.name}"] = None
                continue
            if sla.clock == "business" and cal_name:
                cal = policy.calendars[cal_name]
                a_eff = after_cutoff(cal, a) if sla.apply_cutoff else a
                elapsed = business_seconds(cal, a_eff, b) if b > a_eff else 0.0
            else:
                elapsed = max((b - a).total_seconds(), 0.0)
            row[f"sla_{sla.name}"] = elapsed <= target + 1e-6
        incomplete = bool(statuses & set(policy.perfect_order.incomplete_statuses))
        damaged = bool(statuses & set(policy.perfect_order.damage_statuses))
        bad_invoice = bool(statuses & set(policy.perfect_order.invoice_error_statuses))
        on_time = row.get(f"sla_{policy.perfect_order.on_time_sla}") is True
        row["perfect"] = row["closed"] and on_time and not (incomplete or damaged or bad_invoice or exc_types)
        rows.append(row)
    return pd.DataFrame(rows)


def exceptions_table(spans: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    exc = spans[spans.exc != ""]
    rows = []
    for (order, kind), g in exc.groupby(["order", "exc"]):
        g = g.assign(resolved=g.outcome.isin(policy.resolved_outcomes)).sort_values(["start", "resolved"])
        last = g.iloc[-1]
        opened = g.start.min()
        resolution = (last.start - opened).total_seconds() if last.resolved else None
        rows.append({"order": order, "type": kind, "opened": opened, "resolution": resolution})
    return pd.DataFrame(rows)


def percentile(values: pd.Series, q: float) -> float:
    return float(np.percentile(values.dropna().astype(float), q * 100))
