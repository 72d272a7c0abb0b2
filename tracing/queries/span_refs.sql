-- Spans by reference whose start times are already known (order_keys keeps each span's start), read
-- from otel_traces_by_trace through its primary key (TraceId) within those start times, so only the
-- parts of those weeks are searched and no trace-time lookup is needed; never a scan.
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
    AND SpanId IN {span_ids:Array(String)}
    AND Timestamp >= {since:DateTime64(9)}
    AND Timestamp < {until:DateTime64(9)} + INTERVAL 1 SECOND
LIMIT {limit:UInt32}
