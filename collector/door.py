"""Validation at the door: which spans of a request the store can keep, decided before the answer.

The receivers spool OTLP requests as they arrived and the engine converts them (``engine.py``).
Here a protobuf body is parsed once (C speed; strings UTF-8 checked) with the spool schema
(:mod:`collector.otlp_schema`) and each span is checked: trace and span ids, start and end in the
accepted time window (:class:`collector.convert.TimeWindow`), end not before start, event times in
the window. Rejected spans are removed from the request (it is serialised again only then); the
rest is spooled byte for byte. Attributes, events and links beyond the count limits are counted
here (the engine cuts them).

A body this path cannot take exactly returns None and goes the exact Python way
(:func:`collector.convert.prerender`): invalid UTF-8 (repaired), attribute values nested deeper
than an array or map of scalars, anything the schema parser refuses.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from google.protobuf.message import DecodeError

from collector.convert import MAX_ERROR_EXAMPLES, Conversion, Limits, TimeWindow, iso_time
from collector.otlp_schema import request_class

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def admit(body: bytes, limits: Limits, window: TimeWindow, now_ns: int) -> Conversion | None:
    """The spans of ``body`` the store keeps, as a request to spool (``Conversion.block``), or None
    when the exact Python path must decide."""
    try:
        request: Any = request_class().FromString(body)
    except DecodeError:
        return None
    if not request.IsInitialized():  # an attribute value nested deeper than the engine renders
        return None
    first, last = window.bounds(now_ns)
    max_attributes = limits.max_attributes
    max_events = limits.max_events
    max_links = limits.max_links
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    accepted = 0
    truncated = 0
    changed = False

    def reject(reason: str, span: Any, detail: str) -> None:
        reasons[reason] += 1
        if len(examples) < MAX_ERROR_EXAMPLES:
            examples.append(f"span {span.span_id.hex() or '(no id)'} {span.name[:80]!r}: {detail}")

    for resource_spans in request.resource_spans:
        truncated += max(0, len(resource_spans.resource.attributes) - max_attributes)
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            rejected_here: list[int] = []
            for index, span in enumerate(spans):
                trace_id = span.trace_id
                span_id = span.span_id
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
                    reject(
                        "invalid_trace_id", span, f"trace id must be 16 non-zero bytes, got {len(trace_id)}"
                    )
                elif len(span_id) != 8 or span_id == _ZERO_SPAN:
                    reject("invalid_span_id", span, f"span id must be 8 non-zero bytes, got {len(span_id)}")
                elif (parent := len(span.parent_span_id)) and parent != 8:
                    reject("invalid_parent_span_id", span, f"parent span id must be 8 bytes, got {parent}")
                elif end < start:
                    reject("end_before_start", span, f"end {end} is before start {start}")
                elif start < first or end > last:
                    early = start < first
                    reject(
                        "time_before_window" if early else "time_after_window",
                        span,
                        f"{'start' if early else 'end'} {iso_time(start if early else end)} is "
                        f"{'before' if early else 'after'} the accepted window",
                    )
                else:
                    events = span.events
                    if events:
                        times = [event.time_unix_nano for event in events[:max_events]]
                        earliest, latest = min(times), max(times)
                        if earliest < first or latest > last:
                            early = earliest < first
                            reject(
                                "time_before_window" if early else "time_after_window",
                                span,
                                f"event time {iso_time(earliest if early else latest)} is "
                                f"{'before' if early else 'after'} the accepted window",
                            )
                            rejected_here.append(index)
                            continue
                        truncated += max(0, len(events) - max_events)
                        for event in events[:max_events]:
                            truncated += max(0, len(event.attributes) - max_attributes)
                    links = span.links
                    if links:
                        truncated += max(0, len(links) - max_links)
                        for link in links[:max_links]:
                            truncated += max(0, len(link.attributes) - max_attributes)
                    truncated += max(0, len(span.attributes) - max_attributes)
                    accepted += 1
                    continue
                rejected_here.append(index)
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
        window=window.describe(now_ns),
    )
