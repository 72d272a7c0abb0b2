"""Validation at the door: which spans of a request the store can keep, decided before the answer.

The receivers spool OTLP requests as they arrived and the engine converts them (``engine.py``).
Here each span is checked: trace and span ids, start and end in the accepted time window
(:class:`collector.convert.TimeWindow`), end not before start, event times in the window. Rejected
spans are removed from the request (it is serialised again only then); the rest is spooled byte
for byte. Attributes, events and links beyond the count limits are counted here (the engine cuts
them).

Two ways, the same decisions (``tests/collector/test_door.py`` holds them to the exact path):

* the quick way (:func:`_admit_all`) accepts a request whose every span passes without a Python
  object per span or per attribute: the body is parsed with the spool schema merged into columns
  (the same wire-format and UTF-8 checks; array and map values show up as two columns), then with a
  schema holding per span only its ids, times, events and links, which is serialised compactly
  (each field at most once per span) and read back as columns, so that whole-column checks (min,
  max, lengths) decide for every span at once; how many attributes a span has is bounded by a
  byte count of its bytes (:func:`attribute_tags_bound`), and counted only when the bound is over
  the limit. Whatever it cannot prove that way goes
* span by span: the body is parsed with the spool schema (:mod:`collector.otlp_schema`), each
  span checked and the rejected ones removed, with a reason and an example each.

A body neither can take exactly returns None and goes the exact Python way
(:func:`collector.convert.prerender`): invalid UTF-8 (repaired), attribute values nested deeper
than an array or map of scalars, anything the schema parser refuses.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter, methodcaller
from typing import Any

from google.protobuf.message import DecodeError, EncodeError

from collector.convert import MAX_ERROR_EXAMPLES, Conversion, Limits, TimeWindow
from collector.otlp_schema import (
    columns_class,
    event_columns_class,
    key_columns_class,
    keys_class,
    link_columns_class,
    request_class,
    span_bytes_class,
    span_keys_class,
)
from collector.reasons import columns_pass, event_rejection, event_times_pass, example, span_rejection

# one C call per span: what the checks read
_SPAN_FIELDS = attrgetter(
    "trace_id",
    "span_id",
    "parent_span_id",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "events",
    "links",
    "attributes",
)
_ATTRIBUTES = attrgetter("attributes")


def admit(body: bytes, limits: Limits, window: TimeWindow, now_ns: int) -> Conversion | None:
    """The spans of ``body`` the store keeps, as a request to spool (``Conversion.block``), or None
    when the exact Python path must decide."""
    quick = _admit_all(body, limits, window, now_ns)
    if quick is not None:
        return quick
    try:
        request: Any = request_class().FromString(body)
        # an attribute value nested deeper than the engine renders leaves a required field unset:
        # the encoder's required-field check finds it (like IsInitialized(), at a fraction of its cost)
        request.SerializeToString()
    except (DecodeError, EncodeError):
        return None
    first, last = window.bounds(now_ns)
    max_attributes = limits.max_attributes
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    accepted = 0
    truncated = 0
    changed = False
    for resource_spans in request.resource_spans:
        truncated += max(0, len(resource_spans.resource.attributes) - max_attributes)
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            if not spans:
                continue
            rows = list(map(_SPAN_FIELDS, spans))
            counted = _all_admitted(rows, limits, first, last)
            if counted is not None:
                accepted += len(rows)
                truncated += counted
                continue
            # some span fails: decide span by span (same order, reasons and examples as ever)
            passed, counted, rejected_here = _admit_each(spans, rows, limits, first, last, reasons, examples)
            accepted += passed
            truncated += counted
            for index in reversed(rejected_here):
                del spans[index]
                changed = True
    block = request.SerializeToString() if changed else body
    return Conversion(
        block=block if accepted else b"",
        accepted=accepted,
        rejected=sum(reasons.values()),
        reasons=reasons,
        examples=examples,
        truncated=truncated,
        window=window.describe(now_ns) if reasons else "",
    )


def _admit_all(body: bytes, limits: Limits, window: TimeWindow, now_ns: int) -> Conversion | None:
    """The whole request accepted, when whole-column checks prove every span passes; else None."""
    try:
        columns: Any = columns_class().FromString(body)
        keys: Any = span_keys_class().FromString(body)
    except DecodeError:
        return None
    resources = columns.resource_spans
    spans = resources.scope_spans.spans
    for values in (
        resources.resource.attributes.value,
        spans.attributes.value,
        spans.events.attributes.value,
        spans.links.attributes.value,
    ):
        if values.array_value or values.kvlist_value:  # rendered by the Python path
            return None
    max_attributes = limits.max_attributes
    count = 0
    truncated = 0
    for resource_spans in keys.resource_spans:
        truncated += max(0, len(resource_spans.resource.attributes) - max_attributes)
        for scope_spans in resource_spans.scope_spans:
            count += len(scope_spans.spans)
    if not count:
        return None
    keys.DiscardUnknownFields()
    compact = keys.SerializeToString()
    span_columns: Any = key_columns_class().FromString(compact).resource_spans.scope_spans.spans
    traces = list(span_columns.trace_id)  # each column read once (every read makes its objects)
    span_ids = list(span_columns.span_id)
    starts = list(span_columns.start_time_unix_nano)
    ends = list(span_columns.end_time_unix_nano)
    # the compact form has each field at most once per span: n values = one per span, in order
    if not (len(traces) == len(span_ids) == len(starts) == len(ends) == count):
        return None
    first, last = window.bounds(now_ns)
    if not columns_pass(traces, span_ids, span_columns.parent_span_id, starts, ends, first, last):
        return None
    events = span_columns.events
    if events:
        if len(events) > limits.max_events:  # some span might have more than the limit
            return None
        event_columns: Any = event_columns_class().FromString(b"".join(events))
        times = event_columns.time_unix_nano
        if (
            len(times) != len(events)
            or not event_times_pass(times, first, last)
            or len(event_columns.attributes) > max_attributes
        ):
            return None
    links = span_columns.links
    if links:
        if len(links) > limits.max_links:
            return None
        if len(link_columns_class().FromString(b"".join(links)).attributes) > max_attributes:
            return None
    if attribute_tags_bound(body, max_attributes) > max_attributes:  # some span might have more: count them
        for resource_spans in keys_class().FromString(body).resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span_attributes in map(_ATTRIBUTES, scope_spans.spans):
                    truncated += max(0, len(span_attributes) - max_attributes)
    return Conversion(block=body, accepted=count, truncated=truncated)


_COUNT_TAG = methodcaller("count", b"\x4a")  # the tag of field 9 (a span's attribute), wire type 2


def attribute_tags_bound(body: bytes, limit: int | None = None) -> int:
    """At least as many as the most attributes a span of ``body`` (a valid request) has.

    An attribute is field 9 of the span, length-delimited: its tag is the varint 0x4a, written as
    the byte 0x4a or, longer than needed (the parsers accept that), as bytes starting with 0xca.
    So a span has at most as many attributes as it has 0x4a and 0xca bytes: C counts per span
    instead of a message per attribute. The 0xca bytes are counted per span only when the whole
    body's would lift the bound past ``limit`` (random ids and times hold about one in 256 bytes, so
    a large request's body count alone would send every span to the exact count).
    """
    spans_of = [
        scope_spans.spans
        for resource_spans in span_bytes_class().FromString(body).resource_spans
        for scope_spans in resource_spans.scope_spans
        if scope_spans.spans
    ]
    most = max((max(map(_COUNT_TAG, spans)) for spans in spans_of), default=0)
    bound = most + body.count(b"\xca")
    if limit is None or bound <= limit:
        return bound
    return max(
        (max(span.count(b"\x4a") + span.count(b"\xca") for span in spans) for spans in spans_of),
        default=0,
    )


def _all_admitted(rows: list[tuple[Any, ...]], limits: Limits, first: int, last: int) -> int | None:
    """Whole-list checks of one scope's spans (C loops over columns): the number of attributes,
    events and links beyond the limits when every span passes, else None."""
    traces, span_ids, parents, starts, ends, events, links, attributes = zip(*rows, strict=True)
    if not columns_pass(traces, span_ids, parents, starts, ends, first, last):
        return None
    max_attributes = limits.max_attributes
    max_events = limits.max_events
    truncated = 0
    for span_events in filter(None, events):
        kept = span_events[:max_events]
        if not event_times_pass([event.time_unix_nano for event in kept], first, last):
            return None
        truncated += max(0, len(span_events) - max_events)
        for event in kept:
            truncated += max(0, len(event.attributes) - max_attributes)
    for span_links in filter(None, links):
        truncated += _links_truncated(span_links, limits)
    for count in map(len, attributes):
        if count > max_attributes:
            truncated += count - max_attributes
    return truncated


def _links_truncated(links: Any, limits: Limits) -> int:
    max_attributes = limits.max_attributes
    truncated = max(0, len(links) - limits.max_links)
    for link in links[: limits.max_links]:
        truncated += max(0, len(link.attributes) - max_attributes)
    return truncated


def _admit_each(
    spans: Any,
    rows: list[tuple[Any, ...]],
    limits: Limits,
    first: int,
    last: int,
    reasons: Counter[str],
    examples: list[str],
) -> tuple[int, int, list[int]]:
    """Span by span: (accepted, truncated, indexes of the rejected spans)."""
    max_attributes = limits.max_attributes
    max_events = limits.max_events
    accepted = 0
    truncated = 0
    rejected_here: list[int] = []

    def reject(reason: str, detail: str, index: int) -> None:
        reasons[reason] += 1
        rejected_here.append(index)
        if len(examples) < MAX_ERROR_EXAMPLES:
            examples.append(example(spans[index], detail))

    for index, (trace_id, span_id, parent_id, start, end, events, links, attributes) in enumerate(rows):
        rejection = span_rejection(trace_id, span_id, parent_id, start, end, first, last)
        if rejection is not None:
            reject(*rejection, index)
            continue
        span_truncated = 0
        if events:
            kept = events[:max_events]
            times = [event.time_unix_nano for event in kept]
            rejection = event_rejection(min(times), max(times), first, last)
            if rejection is not None:
                reject(*rejection, index)
                continue
            span_truncated += max(0, len(events) - max_events)
            for event in kept:
                span_truncated += max(0, len(event.attributes) - max_attributes)
        if links:
            span_truncated += _links_truncated(links, limits)
        truncated += span_truncated + max(0, len(attributes) - max_attributes)
        accepted += 1
    return accepted, truncated, rejected_here
