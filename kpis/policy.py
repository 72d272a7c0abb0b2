"""SLA policies and KPI definitions: pydantic models and a YAML loader with line-numbered errors.

A policy names business calendars (time zone, working hours, holidays, warehouse cut-off), SLAs
(from one stage edge to another, e.g. ``capture.start`` -> ``ship.end``, with a target that can vary
by channel, priority, customer tier, warehouse and region, in wall-clock or business time) and the
definitions behind the KPIs (what makes an order perfect, what makes an allocation inaccurate).
The shipped defaults are ``kpis/default_policy.yaml``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kpis.process.policy import ProcessPolicy
from storage import yamlfile
from storage.errors import TowerError

DEFAULT_POLICY = "default_policy.yaml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DIMENSIONS = ("channel", "priority", "customer_tier", "warehouse", "region")
_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
KPI_NAMES = (
    "orders",
    "cycle_time_p50",
    "cycle_time_p90",
    "cycle_time_p95",
    "touchless_rate",
    "perfect_order_rate",
    "exception_volume",
    "exception_resolution_mean",
    "exception_resolution_p90",
    "invoice_latency_mean",
    "invoice_latency_p50",
    "invoice_latency_p90",
    "allocation_accuracy",
)


MAX_SLA_STAGES = 63


class PolicyError(TowerError, ValueError):
    """The policy file is invalid; the message names the file, line and field."""


def parse_duration(value: Any) -> float:
    """Seconds from ``90`` (seconds), ``"36h"``, ``"1d 4h"``, ``"45m"`` or ``"30s"`` (``d`` = 24 h)."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or text like '36h', '1d 4h', '45m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (match := _DURATION.match(value)):
        d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = d * 86400 + h * 3600 + m * 60 + s
    else:
        raise ValueError(f"duration {value!r} is not a number of seconds or text like '36h', '1d 4h', '45m'")
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be more than zero")
    return seconds


def format_duration(value: float | timedelta | None) -> str:
    """Seconds (or a timedelta) as people read them: ``2d 10h``, ``2h 05m``, ``4m 10s``, ``3.5 s``,
    ``850 ms``; ``-`` for none. The one duration format of the dashboard, the KPI explanations and
    the alerts (``web.formatting.fmt_duration`` is this function)."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "-"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{sign}{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {secs:02d}s"


def _hhmm(value: str, what: str) -> time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"{what} {value!r} must be HH:MM (24-hour clock)")
    return time(int(match.group(1)), int(match.group(2)))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calendar(Strict):
    """Business hours in one time zone. Working hours must lie between 01:00 and 23:00 local time."""

    timezone: str = "UTC"
    working_hours: dict[str, str] = Field(
        default_factory=lambda: {d: "08:00-17:00" for d in WEEKDAYS[:5]},
        description="weekday (mon..sun) -> 'HH:MM-HH:MM'; days not listed are closed",
    )
    holidays: list[date] = Field(default_factory=list)
    cutoff: str | None = Field(
        default=None, description="warehouse cut-off 'HH:MM': work released later starts next business day"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like 'America/Chicago')"
            ) from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"working_hours day {day!r} must be one of {', '.join(WEEKDAYS)}")
            start, sep, end = str(span).partition("-")
            if not sep:
                raise ValueError(f"working_hours[{day}] {span!r} must be 'HH:MM-HH:MM'")
            a, b = _hhmm(start, f"working_hours[{day}] start"), _hhmm(end, f"working_hours[{day}] end")
            if not a < b:
                raise ValueError(f"working_hours[{day}] {span!r} must end after it starts")
            if a < time(1, 0) or b > time(23, 0):
                raise ValueError(f"working_hours[{day}] {span!r} must lie between 01:00 and 23:00")
        return value

    @field_validator("cutoff")
    @classmethod
    def _cutoff(cls, value: str | None) -> str | None:
        if value is not None:
            _hhmm(value, "cutoff")
        return value

    def hours(self, weekday: int) -> tuple[time, time] | None:
        span = self.working_hours.get(WEEKDAYS[weekday])
        if span is None:
            return None
        start, _, end = span.partition("-")
        return _hhmm(start, "start"), _hhmm(end, "end")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Match(Strict):
    """Which orders an override applies to; a field left out matches any value."""

    channel: str | None = None
    priority: str | None = None
    customer_tier: str | None = None
    warehouse: str | None = None
    region: str | None = None

    def fields(self) -> dict[str, str]:
        return {d: v for d in DIMENSIONS if (v := getattr(self, d)) is not None}


class Override(Strict):
    when: Match
    target: float
    calendar: str | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> float:
        return parse_duration(value)


class Edge(Strict):
    stage: str
    at: Literal["start", "end"]


def _edge(value: Any) -> Any:
    if isinstance(value, str):
        stage, sep, at = value.partition(".")
        if not sep or at not in ("start", "end") or not stage:
            raise ValueError(f"{value!r} must be '<stage>.start' or '<stage>.end', e.g. 'capture.start'")
        return {"stage": stage, "at": at}
    return value


class Sla(Strict):
    """An SLA: the time from one stage edge to another must not exceed the target."""

    name: str
    label: str = Field(default="", max_length=120, description="what people call it (default: from the name)")
    kind: Literal["stage", "end_to_end", "handoff"] = "stage"
    stage: str | None = Field(default=None, description="the stage this SLA reports under (stage SLAs)")
    start: Edge
    end: Edge
    target: float
    clock: Literal["wall", "business"] = "wall"
    calendar: str | None = None
    apply_cutoff: bool = False
    warn_before: float | None = Field(default=None, description="at risk this long before the due time")
    overrides: list[Override] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"SLA name {value!r} must be lower-case letters, digits and underscores")
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _edges(cls, value: Any) -> Any:
        return _edge(value)

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("warn_before", mode="before")
    @classmethod
    def _warn(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _clock(self) -> Sla:
        if self.clock == "business" and self.calendar is None:
            raise ValueError(f"SLA {self.name}: clock 'business' needs a calendar")
        if self.apply_cutoff and self.clock != "business":
            raise ValueError(
                f"SLA {self.name}: apply_cutoff needs clock 'business' and a calendar with a cutoff"
            )
        return self

    @property
    def warn_s(self) -> float:
        return self.warn_before if self.warn_before is not None else self.target * 0.25


class KpiTarget(Strict):
    """A KPI's target: met when the value is on the good side of ``target``, at risk up to ``at_risk``,
    missed beyond it. Which side is good follows from the two numbers (``at_risk`` is on the bad side)."""

    target: float
    at_risk: float

    @field_validator("target", "at_risk", mode="before")
    @classmethod
    def _value(cls, value: Any) -> float:
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                return float(value.strip()[:-1]) / 100
            except ValueError:
                raise ValueError(f"{value!r} is not a percentage like '95%'") from None
        if isinstance(value, str):
            return parse_duration(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number, a percentage or a duration")
        return float(value)

    @model_validator(mode="after")
    def _sides(self) -> KpiTarget:
        if self.target == self.at_risk:
            raise ValueError("at_risk must differ from target (it sets which side is good)")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.at_risk < self.target

    def status(self, value: float | None) -> Literal["met", "at_risk", "missed", ""]:
        """``met``, ``at_risk`` or ``missed`` (``""`` when there is no value)."""
        if value is None:
            return ""
        sign = 1 if self.higher_is_better else -1
        if (value - self.target) * sign >= 0:
            return "met"
        if (value - self.at_risk) * sign >= 0:
            return "at_risk"
        return "missed"


class ExceptionPlaybook(Strict):
    """What to do next about one exception type (shown in the exceptions queue)."""

    label: str = Field(default="", max_length=120)
    next_step: str = Field(max_length=1000)
    runbook: str = Field(default="", max_length=2000, description="a runbook URL (http/https) or path")


class PerfectOrder(Strict):
    """Perfect order = on time AND complete AND undamaged with no exception AND invoiced correctly."""

    on_time_sla: str = "capture_to_ship"
    incomplete_statuses: list[str] = Field(
        default_factory=lambda: ["backordered", "partial", "short_shipped"]
    )
    damage_statuses: list[str] = Field(default_factory=lambda: ["damaged", "returned"])
    invoice_error_statuses: list[str] = Field(default_factory=lambda: ["invoice_disputed", "credit_memo"])


class Allocation(Strict):
    """First allocation held = one allocation hop, no failure status and no failure exception."""

    failure_statuses: list[str] = Field(default_factory=lambda: ["backordered", "reallocated", "short"])
    failure_exceptions: list[str] = Field(default_factory=lambda: ["stockout", "backorder"])


class Policy(Strict):
    version: Literal[1] = 1
    closing_stage: str = Field(default="invoice", description="an order is closed once this stage ends")
    cancelled_statuses: list[str] = Field(default_factory=lambda: ["cancelled"])
    resolved_outcomes: list[str] = Field(default_factory=lambda: ["resolved", "auto_resolved", "cancelled"])
    exception_aging_buckets: list[float] = Field(
        default_factory=lambda: [4 * 3600.0, 24 * 3600.0, 72 * 3600.0],
        description="upper bounds of the open-exception aging buckets",
    )
    calendars: dict[str, Calendar] = Field(default_factory=lambda: {"default": Calendar()})
    slas: list[Sla] = Field(default_factory=list)
    perfect_order: PerfectOrder = Field(default_factory=PerfectOrder)
    allocation: Allocation = Field(default_factory=Allocation)
    process: ProcessPolicy = Field(default_factory=ProcessPolicy)
    kpi_targets: dict[str, KpiTarget] = Field(
        default_factory=dict,
        description="targets by KPI name; 'sla:<name>' for one SLA's attainment, 'sla' for every SLA",
    )
    exception_playbooks: dict[str, ExceptionPlaybook] = Field(
        default_factory=dict, description="next step and runbook by exception type"
    )

    @field_validator("exception_aging_buckets", mode="before")
    @classmethod
    def _buckets(cls, value: Any) -> list[float]:
        if not isinstance(value, list) or not value:
            raise ValueError("exception_aging_buckets must be a non-empty list of durations")
        parsed = [parse_duration(v) for v in value]
        if parsed != sorted(set(parsed)):
            raise ValueError("exception_aging_buckets must be increasing")
        return parsed

    @model_validator(mode="after")
    def _references(self) -> Policy:
        names = [s.name for s in self.slas]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"SLA names must be unique: {', '.join(duplicates)}")
        for sla in self.slas:
            cals = [sla.calendar, *(o.calendar for o in sla.overrides)]
            for cal in cals:
                if cal is not None and cal not in self.calendars:
                    raise ValueError(
                        f"SLA {sla.name}: calendar {cal!r} is not defined (have: {', '.join(self.calendars)})"
                    )
            if sla.apply_cutoff and not any(self.calendars[c].cutoff for c in cals if c is not None):
                raise ValueError(f"SLA {sla.name}: apply_cutoff needs a calendar with a cutoff")
        stages = {st for s in self.slas for st in (s.start.stage, s.end.stage)}
        if len(stages) > MAX_SLA_STAGES:
            # order_facts.sql keeps the stages an order reached as bits of one UInt64
            raise ValueError(
                f"the SLAs' start and end edges name {len(stages)} stages; at most {MAX_SLA_STAGES} are supported"
            )
        known = {*KPI_NAMES, "sla", *(f"sla:{n}" for n in names)}
        unknown = sorted(set(self.kpi_targets) - known)
        if unknown:
            raise ValueError(
                f"kpi_targets: unknown KPI {', '.join(unknown)} (have: {', '.join(sorted(known))})"
            )
        if self.slas and self.perfect_order.on_time_sla not in names:
            raise ValueError(
                f"perfect_order.on_time_sla {self.perfect_order.on_time_sla!r} is not an SLA name"
            )
        return self

    def sla(self, name: str) -> Sla:
        for sla in self.slas:
            if sla.name == name:
                return sla
        raise KeyError(name)

    def kpi_target(self, name: str) -> KpiTarget | None:
        """The target for a KPI (``sla:<name>`` falls back to the ``sla`` entry)."""
        found = self.kpi_targets.get(name)
        if found is None and name.startswith("sla:"):
            found = self.kpi_targets.get("sla")
        return found

    def sla_label(self, name: str) -> str:
        """``order_entry`` -> "Order entry SLA" (or the SLA's own label)."""
        for sla in self.slas:
            if sla.name == name and sla.label:
                return sla.label
        return name.replace("_", " ").strip().capitalize() + " SLA"

    def calendar_names(self) -> list[str]:
        return list(self.calendars)


# -- loading -------------------------------------------------------------------------------------


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate a policy file (``None``: the shipped defaults)."""
    if path is None:
        text = resources.files("kpis").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        return parse_policy(text, f"kpis/{DEFAULT_POLICY}")
    text = yamlfile.read(path, "policy", PolicyError)
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy YAML; errors name the source, line and field path."""
    return yamlfile.validate(
        text,
        source,
        Policy,
        PolicyError,
        not_mapping="a policy must be a mapping, got {kind}",
        whole="policy",
        line_always=True,
        locate=_locate,
    )


def _locate(data: dict[str, Any], message: str) -> tuple[Any, ...]:
    """Where a cross-field error belongs (errors of the whole policy carry no location)."""
    match = re.match(r"SLA (\w+)", message)
    slas = data.get("slas")
    if match and isinstance(slas, list):
        for i, sla in enumerate(slas):
            if isinstance(sla, dict) and sla.get("name") == match.group(1):
                for key in ("calendar", "apply_cutoff", "clock"):
                    if key in message and key in sla:
                        return ("slas", i, key)
                if "calendar" in message:
                    for j, override in enumerate(sla.get("overrides") or []):
                        if isinstance(override, dict) and "calendar" in override:
                            return ("slas", i, "overrides", j, "calendar")
                return ("slas", i)
    if "on_time_sla" in message:
        return ("perfect_order", "on_time_sla")
    if "SLA names must be unique" in message:
        return ("slas",)
    return ()


# -- compiled forms used by the SQL ----------------------------------------------------------------


@dataclass(frozen=True)
class CalendarTable:
    """Per-day business hours of one calendar as UTC epoch milliseconds, for vectorised SQL.

    Day ``i`` (1-based) is local date ``base + i - 1``. ``cum[i]`` is the business milliseconds
    from the table start to that day's opening, so business time between two instants is a
    difference of :meth:`business_ms` values.
    """

    base: date
    offset_ms: int
    open_ms: list[int]
    close_ms: list[int]
    cum_ms: list[int]
    cutoff_ms: list[int]

    def index(self, t_ms: int) -> int:
        i = (t_ms + self.offset_ms) // 86_400_000 - (self.base - date(1970, 1, 1)).days + 1
        return min(max(i, 1), len(self.open_ms))

    def business_ms(self, t_ms: int, cutoff: bool = False) -> int:
        i = self.index(t_ms) - 1
        length = self.close_ms[i] - self.open_ms[i]
        if cutoff and self.cutoff_ms[i] and t_ms > self.cutoff_ms[i]:
            return self.cum_ms[i] + length
        return self.cum_ms[i] + min(max(t_ms - self.open_ms[i], 0), length)


def calendar_table(calendar: Calendar, start: date, end: date) -> CalendarTable:
    """The calendar's business hours for local dates ``start`` .. ``end`` inclusive."""
    zone = calendar.zone
    holidays = set(calendar.holidays)
    cutoff = _hhmm(calendar.cutoff, "cutoff") if calendar.cutoff else None
    midnight = datetime.combine(start, time(12), zone)
    offset = midnight.utcoffset() or timedelta(0)
    opens, closes, cums, cutoffs = [], [], [], []
    total = 0
    day = start
    while day <= end:
        hours = None if day in holidays else calendar.hours(day.weekday())
        noon = _epoch_ms(datetime.combine(day, time(12), zone))
        if hours is None:
            opens.append(noon)
            closes.append(noon)
        else:
            opens.append(_epoch_ms(datetime.combine(day, hours[0], zone)))
            closes.append(_epoch_ms(datetime.combine(day, hours[1], zone)))
        cutoffs.append(_epoch_ms(datetime.combine(day, cutoff, zone)) if cutoff and hours else 0)
        cums.append(total)
        total += closes[-1] - opens[-1]
        day += timedelta(days=1)
    return CalendarTable(start, int(offset.total_seconds() * 1000), opens, closes, cums, cutoffs)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def sla_parameters(policy: Policy, start: date, end: date) -> dict[str, Any]:
    """Bound parameters for the SLA evaluation in ``kpis/queries/*.sql``.

    Targets vary by segment: every combination of the values named in overrides (plus "any
    other") is enumerated here, so the SQL picks a segment's targets by one lookup instead of
    matching rules per row.
    """
    cal_names = policy.calendar_names()
    stage_set = list(dict.fromkeys(st for s in policy.slas for st in (s.start.stage, s.end.stage)))
    tables = [calendar_table(policy.calendars[name], start, end) for name in cal_names]
    slas = policy.slas
    values: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    for sla in slas:
        for override in sla.overrides:
            for dim, value in override.when.fields().items():
                if value not in values[dim]:
                    values[dim].append(value)
    dims = [d for d in DIMENSIONS if values[d]]
    combos = list(itertools.product(*[[*values[d], ""] for d in dims])) if dims else [()]
    keys, targets, cals = [], [], []
    for combo in combos:
        segment = dict(zip(dims, combo, strict=True))
        keys.append("|".join(combo))
        row_t, row_c = [], []
        for sla in slas:
            target, calendar = sla.target, sla.calendar
            for override in sla.overrides:
                if all(segment.get(d) == v for d, v in override.when.fields().items()):
                    target, calendar = override.target, override.calendar or sla.calendar
                    break
            row_t.append(target)
            row_c.append(cal_names.index(calendar) + 1 if sla.clock == "business" and calendar else 0)
        targets.append(row_t)
        cals.append(row_c)
    pos: list[int] = []
    hpos: list[int] = []
    nhours: list[int] = []
    hour_first: list[int] = []
    cumend: list[int] = []
    for table in tables:
        pos.append(sum(len(t.open_ms) for t in tables[: len(pos)]))
        ends = [c + (b - a) for c, a, b in zip(table.cum_ms, table.open_ms, table.close_ms, strict=True)]
        total_hours = ends[-1] // 3_600_000 + 2
        firsts, j = [], 0
        for k in range(total_hours + 1):
            while j < len(ends) - 1 and ends[j] < k * 3_600_000:
                j += 1
            firsts.append(j + 1)
        hpos.append(len(hour_first))
        nhours.append(total_hours)
        hour_first.extend(firsts)
        cumend.extend(ends)
    return {
        "sla_names": [s.name for s in slas],
        "sla_kinds": [s.kind for s in slas],
        "sla_stages": [s.stage or s.end.stage for s in slas],
        "sla_from_stage": [s.start.stage for s in slas],
        # the stages the SLAs' edges name, once each: sla_from_pos / sla_to_pos index into it
        "sla_stage_set": stage_set,
        "sla_from_pos": [stage_set.index(s.start.stage) + 1 for s in slas],
        "sla_to_pos": [stage_set.index(s.end.stage) + 1 for s in slas],
        "sla_from_end": [int(s.start.at == "end") for s in slas],
        "sla_to_stage": [s.end.stage for s in slas],
        "sla_to_end": [int(s.end.at == "end") for s in slas],
        "sla_cutoff": [int(s.apply_cutoff) for s in slas],
        "sla_warn_s": [s.warn_s for s in slas],
        "seg_dims": [1 if d in dims else 0 for d in DIMENSIONS],
        "seg_keys": keys,
        "seg_targets": [t for row in targets for t in row] or [0.0],
        "seg_cals": [c for row in cals for c in row] or [0],
        "seg_values": [values[d] for d in DIMENSIONS],
        "cal_base_day": [(t.base - date(1970, 1, 1)).days for t in tables],
        "cal_offset_ms": [t.offset_ms for t in tables],
        "cal_pos": pos,
        "cal_ndays": [len(t.open_ms) for t in tables],
        "cal_open": [v for t in tables for v in t.open_ms],
        "cal_close": [v for t in tables for v in t.close_ms],
        "cal_cum": [v for t in tables for v in t.cum_ms],
        "cal_cumend": cumend,
        "cal_cutoff": [v for t in tables for v in t.cutoff_ms],
        "cal_hpos": hpos,
        "cal_nhours": nhours,
        "cal_hour_first": hour_first,
        "closing_stage": policy.closing_stage,
        "cancelled_statuses": policy.cancelled_statuses,
        "resolved_outcomes": policy.resolved_outcomes,
        "on_time_sla": policy.perfect_order.on_time_sla,
        "incomplete_statuses": policy.perfect_order.incomplete_statuses,
        "damage_statuses": policy.perfect_order.damage_statuses,
        "invoice_error_statuses": policy.perfect_order.invoice_error_statuses,
        "alloc_failure_statuses": policy.allocation.failure_statuses,
        "alloc_failure_exceptions": policy.allocation.failure_exceptions,
    }
