-- Spans of an order by reference: the spans asked for by id, plus the children of the order's spans
-- that name no other order (a batch run's children for other orders stay out). Read from the copy of
-- the spans sorted by trace id (otel_traces_by_trace, 256-row granules) through its primary key
-- (TraceId), within the traces' time range from otel_traces_trace_id_ts so that only the parts of
-- those weeks are searched (a key lookup in every part reads a granule or two); never a scan.
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
    AND (
        SpanId IN {span_ids:Array(String)}
        OR (
            ParentSpanId IN {parent_ids:Array(String)}
            AND SpanAttributes['order.id'] IN ('', {order_id:String})
            AND (
                SpanAttributes['order.batch.order_ids'] IN ('', {order_id:String})
                OR has(JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'), {order_id:String})
            )
        )
    )
LIMIT {limit:UInt32}
