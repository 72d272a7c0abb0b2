-- Every span of the given traces, from otel_traces_by_trace (the spans sorted by trace id in 256-row
-- granules) through its primary key, within the trace's time range (otel_traces_trace_id_ts) so
-- that only the parts of those weeks are searched: a trace is a few small granules, never a scan.
WITH (
    SELECT (min(Start), max(End))
    FROM otel_traces_trace_id_ts
    WHERE TraceId IN {trace_ids:Array(String)}
) AS bounds
SELECT
    TraceId,
    SpanId,
    ParentSpanId,
    SpanName,
    SpanKind,
    ServiceName,
    toUnixTimestamp64Nano(Timestamp) AS StartNs,
    Duration,
    StatusCode,
    StatusMessage,
    SpanAttributes,
    ResourceAttributes,
    arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`) AS EventTimes,
    `Events.Name` AS EventNames,
    `Events.Attributes` AS EventAttributes,
    `Links.TraceId` AS LinkTraceIds,
    `Links.SpanId` AS LinkSpanIds,
    `Links.Attributes` AS LinkAttributes
FROM otel_traces_by_trace
WHERE TraceId IN {trace_ids:Array(String)}
    AND Timestamp >= bounds.1
    AND Timestamp < bounds.2 + INTERVAL 1 SECOND
LIMIT {limit:UInt32}
