"""The tower's alert signals: each turns the store into samples (group labels, value, orders).

Signals over spans query them directly, bounded by time, each span once (a span re-sent by an
at-least-once sender counts once): ``stalled_orders`` reads the orders' attributed spans
(``order_spans``), ``system_error_rate``, ``system_latency``, ``system_quiet`` and ``span_count``
read ``otel_traces``; ``process_deviations`` reads the order paths (:mod:`kpis.process`). Signals over
SLA breaches, at-risk orders, exception aging and KPIs read the KPI engine's tables through
:mod:`kpis` (see :func:`_kpi_samples`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import LATENCY_QUANTILES, SEGMENTS, Rule
from kpis.policy import Policy
from storage import SqlFiles, Store
from storage.errors import TowerError
from storage.times import naive

SQL = SqlFiles("alerts.queries")
NO_DATA_LABEL = "alert_reason"


class SignalError(TowerError, RuntimeError):
    """A signal could not be evaluated (missing source, bad data); the message says why."""


@dataclass
class Sample:
    """One evaluated group: its segment labels, the value compared with the threshold, orders."""

    group: dict[str, str]
    value: float
    orders: list[str] = field(default_factory=list)


def evaluate(
    store: Store, rule: Rule, now: datetime, max_orders: int = 20, policy: Policy | None = None
) -> list[Sample]:
    """The rule's signal at ``now``: one sample per group (possibly none).

    ``policy`` is the KPI engine's SLA policy, which the signals over SLAs, exceptions and KPIs need
    (the process loads it once and passes it in); span signals do without.
    """
    if rule.signal == "stalled_orders":
        return _stalled(store, rule, now, max_orders)
    if rule.signal in ("system_error_rate", "system_latency", "span_count", "system_quiet"):
        return _span_health(store, rule, now)
    if rule.signal == "process_deviations":
        return _process_deviations(store, rule, now, policy, max_orders)
    if rule.signal in ("ai_accuracy", "ai_drift"):
        return _ai_samples(store, rule, now)
    return _kpi_samples(store, rule, now, policy, max_orders)


def _filters(rule: Rule) -> tuple[list[str], list[list[str]]]:
    keys = list(rule.filters)
    return [SEGMENTS[k] for k in keys], [list(rule.filters[k]) for k in keys]


def _stalled(store: Store, rule: Rule, now: datetime, max_orders: int) -> list[Sample]:
    p = rule.params
    group = list(rule.group_by)
    filter_keys = [k for k in rule.filters if k not in group]
    attrs = [SEGMENTS[k] for k in group + filter_keys]
    allowed = [list(rule.filters.get(k, [])) for k in group + filter_keys]
    until = naive(now)
    rows = store.rows(
        SQL["stalled_orders"],
        {
            "attrs": attrs,
            "allowed": allowed,
            "n_group": len(group),
            "max_orders": max(max_orders, 1),
            "since": until - p["lookback"],
            "until": until,
            "stalled_before": until - p["age"],
            "terminal": p["terminal_stages"],
        },
    )
    return [
        Sample(
            dict(zip(group, row["grp"], strict=True)), float(row["stalled"]), list(row["orders"])[:max_orders]
        )
        for row in rows
    ]


def _span_health(store: Store, rule: Rule, now: datetime) -> list[Sample]:
    p = rule.params
    group = list(rule.group_by)
    if rule.signal == "system_quiet" and "system" not in group:
        group = ["system", *group]
    filter_attrs, filter_values = _filters(rule)
    until = naive(now)
    span = p["lookback"] if rule.signal == "system_quiet" else p["window"]
    rows = store.rows(
        SQL["span_health"],
        {
            "group_attrs": [SEGMENTS[k] for k in group],
            "filter_attrs": filter_attrs,
            "filter_values": filter_values,
            "since": until - span,
            "until": until,
        },
    )
    samples = []
    for row in rows:
        labels = dict(zip(group, row["grp"], strict=True))
        if rule.signal == "system_quiet":
            if not labels.get("system"):
                continue
            value = max((until - row["last_seen"]).total_seconds(), 0.0)
        elif rule.signal == "span_count":
            value = float(row["spans"])
        elif row["spans"] < p["min_spans"]:
            continue
        elif rule.signal == "system_error_rate":
            value = row["errors"] / row["spans"]
        else:
            value = float(row["latency"][LATENCY_QUANTILES.index(p["quantile"])])
        samples.append(Sample(labels, value))
    return samples


# Segment -> attribute of the KPI engine's records (kpis.reports.SlaBreach / OrderException).
_KPI_FIELDS = {
    "stage": "stage",
    "system": "current_system",
    "channel": "channel",
    "region": "region",
    "warehouse": "warehouse",
    "customer_tier": "customer_tier",
}
_EXCEPTION_FIELDS = {**_KPI_FIELDS, "system": "system"}
_KPI_LIMIT = 100_000


def _kpi_samples(
    store: Store, rule: Rule, now: datetime, policy: Policy | None, max_orders: int
) -> list[Sample]:
    """Signals the KPI engine computes: SLA breaches, at-risk orders, exception aging, KPI values."""
    from kpis import reports as kpi  # loads with the first KPI signal, not with every tower command

    if policy is None:
        raise SignalError(f"signal {rule.signal} needs the KPI policy, and the evaluator was given none")
    p = rule.params
    segment = kpi.Segment(
        **{k: v[0] for k, v in rule.filters.items() if len(v) == 1 and k in kpi.Segment.model_fields}
    )
    if rule.signal in ("sla_breach_count", "at_risk_orders"):
        at_risk = rule.signal == "at_risk_orders"
        records: list[Any] = kpi.sla_breaches(
            store,
            policy,
            status="at_risk" if at_risk else "breached",
            sla=p["sla"],
            open_only=p["open_only"] or at_risk,
            segment=segment,
            since=now - p["window"],
            now=now,
            limit=_KPI_LIMIT,
        )
        return _count(rule, records, _KPI_FIELDS, max_orders)
    if rule.signal == "exception_age":
        queue = kpi.exceptions_queue(
            store,
            policy,
            status="open",
            exception_type=p["exception_type"],
            segment=segment,
            now=now,
            limit=_KPI_LIMIT,
        )
        old = [e for e in queue.items if e.age_s >= p["age"].total_seconds()]
        return _count(rule, old, _EXCEPTION_FIELDS, max_orders)
    if rule.group_by:
        raise SignalError(f"signal {rule.signal} does not group; use filters (one value each) instead")
    end = now.date() + timedelta(days=1)
    start = end - timedelta(days=max(1, round(p["window"] / timedelta(days=1))))
    report = kpi.kpi_report(store, policy, start, end, segment)
    if rule.signal == "sla_breach_rate":
        slas = [s for s in report.sla if not p["sla"] or s.sla == p["sla"]]
        evaluated = sum(s.evaluated for s in slas)
        if evaluated == 0:
            return []
        return [Sample({}, 1.0 - sum(s.met for s in slas) / evaluated)]
    try:
        value = report.value(p["kpi"]).value
    except KeyError:
        known = ", ".join(v.name for v in report.values)
        raise SignalError(f"unknown KPI {p['kpi']!r}; KPIs: {known}") from None
    return [] if value is None else [Sample({}, float(value))]


_PROCESS_FIELDS = {
    "channel": "channel",
    "region": "region",
    "warehouse": "warehouse",
    "customer_tier": "customer_tier",
    "system": "erp",
}


def _process_deviations(
    store: Store, rule: Rule, now: datetime, policy: Policy | None, max_orders: int
) -> list[Sample]:
    """Orders whose path deviates from the policy's expected path (rework, skipped stages, stages out
    of order), among the orders whose first hop started in the window; counted per group."""
    from kpis.process.conformance import deviating_orders
    from kpis.process.filters import make_filter
    from kpis.process.mining import MAX_LIMIT

    if policy is None:
        raise SignalError("signal process_deviations needs the KPI policy, and the evaluator was given none")
    p = rule.params
    flt = make_filter(start=naive(now) - p["window"], end=naive(now))
    records: list[Any] = []
    while len(records) < _KPI_LIMIT:
        total, page = deviating_orders(
            store,
            flt,
            policy.process,
            kind=p["kind"],
            detail=p["detail"],
            limit=MAX_LIMIT,
            offset=len(records),
        )
        records.extend(page)
        if len(page) < MAX_LIMIT or len(records) >= total:
            break
    return _count(rule, records, _PROCESS_FIELDS, max_orders)


def _ai_samples(store: Store, rule: Rule, now: datetime) -> list[Sample]:
    """The models' latest live monitoring (ai.monitoring): one sample per model, labelled ``model``.
    ai_drift: the largest feature PSI against the training window; ai_accuracy: the live metric."""
    from ai.catalog import ACCURACY_METRIC, latest

    p = rule.params
    samples = []
    for model, metrics in sorted(latest(store, p["model"] or None).items()):
        name = "max_psi" if rule.signal == "ai_drift" else (p["metric"] or ACCURACY_METRIC.get(model, ""))
        found = metrics.get(name)
        if found is None or found.at is None or now - found.at > p["max_age"]:
            continue
        samples.append(Sample({"model": model, "metric": name, "version": str(found.version)}, found.value))
    return samples


def _count(rule: Rule, records: list[Any], fields: dict[str, str], max_orders: int) -> list[Sample]:
    """Records counted per group (after the rule's filters), with the affected orders."""
    for name in [*rule.group_by, *rule.filters]:
        if name not in fields:
            raise SignalError(f"signal {rule.signal} cannot filter or group by {name!r}")
    groups: dict[tuple[str, ...], Sample] = {}
    for record in records:
        if any(getattr(record, fields[k]) not in allowed for k, allowed in rule.filters.items()):
            continue
        key = tuple(str(getattr(record, fields[k])) for k in rule.group_by)
        sample = groups.setdefault(key, Sample(dict(zip(rule.group_by, key, strict=True)), 0.0))
        sample.value += 1
        if record.order_id not in sample.orders and len(sample.orders) < max_orders:
            sample.orders.append(record.order_id)
    return [groups[k] for k in sorted(groups)]
