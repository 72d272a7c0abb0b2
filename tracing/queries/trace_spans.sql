-- Every span of the given traces, bounded by the traces' time range from otel_traces_trace_id_ts
-- (Start/End are whole seconds of span starts), so otel_traces is never read without a time bound.
WITH bounds AS (
    SELECT min(Start) AS lo, max(End) AS hi
    FROM otel_traces_trace_id_ts
    WHERE TraceId IN {trace_ids:Array(String)}
)
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
FROM otel_traces
WHERE TraceId IN {trace_ids:Array(String)}
    AND Timestamp >= (SELECT lo FROM bounds)
    AND Timestamp < (SELECT hi FROM bounds) + INTERVAL 1 SECOND
LIMIT {limit:UInt32}
