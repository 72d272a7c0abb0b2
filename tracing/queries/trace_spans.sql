-- Every span of the given traces, bounded by the traces' time range from otel_traces_trace_id_ts
-- (Start/End are whole seconds of span starts), read from otel_traces_by_trace by its primary key.
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
