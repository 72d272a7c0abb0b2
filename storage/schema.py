"""Facts about the span tables that writers share (the DDL itself lives in ``migrations/``)."""

from __future__ import annotations

from typing import Final

# The insert column list of the OTel Collector contrib clickhouseexporter (traces_insert.sql):
# every writer of otel_traces (the collector, the simulator's store sink, tests) uses this order.
OTEL_TRACES_COLUMNS: Final[tuple[str, ...]] = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
)
