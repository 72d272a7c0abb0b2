"""Why a span cannot be stored: the rules, their reasons and messages, written once.

Three places decide which spans of a request the store keeps, and must decide alike
(``tests/collector/test_door.py`` holds them to each other): the door's quick way over whole
columns (:func:`collector.door._admit_all` and, per scope, ``_all_admitted``), the door's span by
span way (``_admit_each``) and the exact Python path (:func:`collector.convert.convert`). They all
use this module:

* :func:`span_rejection` / :func:`event_rejection` - the first rule a span (or its events) breaks,
  as ``(reason, detail)``; the reason is the metric label and the count in ``partial_success``,
  the detail the example text;
* :func:`example` - how a rejected span is named in ``partial_success.error_message``;
* :func:`columns_pass` / :func:`event_times_pass` - the same rules over whole columns (C loops:
  min, max, sets of lengths): True when every span passes, so a request needs no span-by-span look.

The rules, in the order a span is judged: trace id (16 bytes, not all zero), span id (8 bytes,
not all zero), parent span id (none or 8 bytes), end not before start, start and end inside the
accepted time window (:class:`collector.convert.TimeWindow`), then the kept events' times inside
it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import lt
from typing import Any

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
_ZERO_TRACE = bytes(TRACE_ID_BYTES)
_ZERO_SPAN = bytes(SPAN_ID_BYTES)
_TRACE_LENGTHS = {TRACE_ID_BYTES}
_SPAN_LENGTHS = {SPAN_ID_BYTES}
_PARENT_LENGTHS = {0, SPAN_ID_BYTES}

# every reason a span can be rejected for (metric labels, partial_success counts)
REASONS = (
    "invalid_trace_id",
    "invalid_span_id",
    "invalid_parent_span_id",
    "end_before_start",
    "time_before_window",
    "time_after_window",
)


_NS = 1_000_000_000


def iso_time(ns: int) -> str:
    """Unix nanoseconds as an ISO 8601 UTC time (any int; out-of-range years are clamped)."""
    from datetime import UTC, datetime, timedelta

    seconds, fraction = divmod(ns, _NS)
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        return f"{ns} ns (beyond year 9999)"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{fraction:09d}Z" if fraction else f"{text}Z"


def _outside(what: str, early: bool, ns: int) -> tuple[str, str]:
    return (
        "time_before_window" if early else "time_after_window",
        f"{what} {iso_time(ns)} is {'before' if early else 'after'} the accepted window",
    )


def span_rejection(
    trace_id: bytes, span_id: bytes, parent_id: bytes, start: int, end: int, first: int, last: int
) -> tuple[str, str] | None:
    """The first rule the span breaks as ``(reason, detail)``, or None when it passes
    (``first``/``last``: the accepted window, inclusive Unix nanoseconds)."""
    if len(trace_id) != TRACE_ID_BYTES or trace_id == _ZERO_TRACE:
        return "invalid_trace_id", f"trace id must be 16 non-zero bytes, got {len(trace_id)}"
    if len(span_id) != SPAN_ID_BYTES or span_id == _ZERO_SPAN:
        return "invalid_span_id", f"span id must be 8 non-zero bytes, got {len(span_id)}"
    if (parent := len(parent_id)) and parent != SPAN_ID_BYTES:
        return "invalid_parent_span_id", f"parent span id must be 8 bytes, got {parent}"
    if end < start:
        return "end_before_start", f"end {end} is before start {start}"
    if start < first:
        return _outside("start", True, start)
    if end > last:
        return _outside("end", False, end)
    return None


def event_rejection(earliest: int, latest: int, first: int, last: int) -> tuple[str, str] | None:
    """The rule a span's kept events break (by their earliest and latest time), or None."""
    if earliest < first:
        return _outside("event time", True, earliest)
    if latest > last:
        return _outside("event time", False, latest)
    return None


def example(span: Any, detail: str) -> str:
    """One example of ``partial_success.error_message``: the span (id and name) and why."""
    return f"span {span.span_id.hex() or '(no id)'} {span.name[:80]!r}: {detail}"


def columns_pass(
    traces: Sequence[bytes],
    span_ids: Sequence[bytes],
    parents: Sequence[bytes],
    starts: Sequence[int],
    ends: Sequence[int],
    first: int,
    last: int,
) -> bool:
    """:func:`span_rejection` over whole columns (one value per span, in order, at least one
    span): True when it passes every span."""
    return not (
        min(starts) < first
        or max(ends) > last
        or any(map(lt, ends, starts))
        or set(map(len, traces)) != _TRACE_LENGTHS
        or set(map(len, span_ids)) != _SPAN_LENGTHS
        or not set(map(len, parents)) <= _PARENT_LENGTHS
        or _ZERO_TRACE in traces
        or _ZERO_SPAN in span_ids
    )


def event_times_pass(times: Sequence[int], first: int, last: int) -> bool:
    """:func:`event_rejection` over the kept events' times (at least one): True when all pass."""
    return min(times) >= first and max(times) <= last
