-- One order's spans, every one of them attributed to it (tracing/attribution.py): a point read of
-- the order-keyed table (sorted by order id and time, 256-row granules). A span stored twice (re-sent
-- by an at-least-once sender, or attributed twice before a merge) is read once, its strongest reason
-- first (between equally strong reasons, the first by name: child before link before linked_from).
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
    `Links.Attributes` AS LinkAttributes,
    Via
FROM order_spans
WHERE OrderId = {order_id:String}
ORDER BY TraceId, SpanId, Rank DESC, Via
LIMIT 1 BY TraceId, SpanId
LIMIT {limit:UInt32}
