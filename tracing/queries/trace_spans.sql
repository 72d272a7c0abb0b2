-- Every span of the given traces, as Grafana's ClickHouse plugin reads a trace: otel_traces by
-- TraceId (its bloom-filter index) within the traces' time range from otel_traces_trace_id_ts.
-- That table keeps DateTime seconds: the bounds are widened to whole seconds and compared as
-- DateTime64(9) with the DateTime64(9) Timestamp (comparing DateTime64 with a DateTime bound makes
-- the bundled engine skip parts whose first span lies in the bound's last second). Each span once.
WITH (
    SELECT (toDateTime64(min(Start), 9, 'UTC'), toDateTime64(max(End), 9, 'UTC') + toIntervalSecond(1))
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
FROM otel_traces
WHERE TraceId IN {trace_ids:Array(String)}
    AND Timestamp >= tupleElement(bounds, 1)
    AND Timestamp < tupleElement(bounds, 2)
LIMIT 1 BY TraceId, SpanId
LIMIT {limit:UInt32}
