"""Recurring time intervals (Alertmanager's ``time_intervals``) for mute and active windows.

An interval matches when every field that is set matches: ``times`` (HH:MM ranges, end
exclusive), ``weekdays`` (``monday:friday``), ``days_of_month`` (``1:5``, ``-1`` = last day),
``months`` (``january:march`` or ``1:3``), ``years`` (``2025:2026``), in ``location``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [m.lower() for m in calendar.month_name[1:]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TimeRange(_Strict):
    start_time: str = "00:00"
    end_time: str = "24:00"

    @field_validator("start_time", "end_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        match = re.match(r"^(\d{2}):(\d{2})$", value)
        if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
            raise ValueError(f"time must be HH:MM, got {value!r}")
        return value


class TimeIntervalSpec(_Strict):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str = "UTC"

    @model_validator(mode="after")
    def _check(self) -> TimeIntervalSpec:
        check_spec(self)
        return self


class TimeInterval(_Strict):
    name: str
    time_intervals: list[TimeIntervalSpec]


def _bound(text: str, names: list[str] | None, low: int, high: int, what: str, negative: bool = False) -> int:
    text = text.strip().lower()
    if names and text in names:
        return names.index(text) + (0 if what == "weekday" else 1)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}") from None
    if negative and -31 <= value <= -1:
        return value
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range {low}..{high}")
    return value


def _ranges(
    items: Iterable[str], names: list[str] | None, low: int, high: int, what: str, negative: bool = False
) -> list[tuple[int, int]]:
    out = []
    for item in items:
        start, _, end = str(item).partition(":")
        a = _bound(start, names, low, high, what, negative)
        b = _bound(end, names, low, high, what, negative) if end else a
        if (a >= 0) == (b >= 0) and b < a:
            raise ValueError(f"{what} range {item!r} ends before it starts")
        out.append((a, b))
    return out


def check_spec(spec: TimeIntervalSpec) -> None:
    _ranges(spec.weekdays, WEEKDAYS, 0, 6, "weekday")
    _ranges(spec.days_of_month, None, 1, 31, "day of month", negative=True)
    _ranges(spec.months, MONTHS, 1, 12, "month")
    _ranges(spec.years, None, 1, 9999, "year")
    try:
        ZoneInfo(spec.location)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone location {spec.location!r}") from None
    for r in spec.times:
        if _minutes(r.end_time) <= _minutes(r.start_time):
            raise ValueError(f"time range {r.start_time}-{r.end_time} must end after it starts")


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _in(value: int, ranges: list[tuple[int, int]]) -> bool:
    return not ranges or any(a <= value <= b for a, b in ranges)


def spec_contains(spec: TimeIntervalSpec, when: datetime) -> bool:
    local = when.astimezone(ZoneInfo(spec.location))
    if spec.times:
        minute = local.hour * 60 + local.minute
        if not any(_minutes(r.start_time) <= minute < _minutes(r.end_time) for r in spec.times):
            return False
    if not _in(local.weekday(), _ranges(spec.weekdays, WEEKDAYS, 0, 6, "weekday")):
        return False
    if spec.days_of_month:
        last = calendar.monthrange(local.year, local.month)[1]
        days = [
            (a if a > 0 else last + a + 1, b if b > 0 else last + b + 1)
            for a, b in _ranges(spec.days_of_month, None, 1, 31, "day of month", negative=True)
        ]
        if not _in(local.day, days):
            return False
    if not _in(local.month, _ranges(spec.months, MONTHS, 1, 12, "month")):
        return False
    return _in(local.year, _ranges(spec.years, None, 1, 9999, "year"))


def interval_contains(interval: TimeInterval, when: datetime) -> bool:
    """True when ``when`` falls inside any of the interval's specs."""
    return any(spec_contains(spec, when) for spec in interval.time_intervals)
