-- Spans that name their orders (order.id, or a batch span's order.batch.order_ids): one row per
-- order, as the order-keyed table order_spans stores them (the hop projection is computed there). A
-- batch span's copy for each of its orders leaves out the order list (up to hundreds of ids, once
-- per order it would grow with the square of the batch): order.batch.size stays, and the whole span
-- is in otel_traces.
SELECT
    OrderId,
    Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes,
    if(OrderId = attrs['order.id'], attrs, mapFilter((k, v) -> k != 'order.batch.order_ids', attrs)) AS SpanAttributes,
    Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`,
    if(OrderId = attrs['order.id'], 'order', 'batch') AS Via,
    toUInt8(if(OrderId = attrs['order.id'], 6, 5)) AS Rank
FROM (SELECT *, SpanAttributes AS attrs, {{include:order_ids}} AS OrderIds FROM {{source}})
ARRAY JOIN OrderIds AS OrderId
