-- Spans that name their orders (order.id, or a batch span's order.batch.order_ids): one row per
-- order, as the order-keyed table order_spans stores them (the hop projection is computed there).
SELECT
    OrderId,
    Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`,
    if(OrderId = SpanAttributes['order.id'], 'order', 'batch') AS Via,
    toUInt8(if(OrderId = SpanAttributes['order.id'], 6, 5)) AS Rank
FROM {{source}}
ARRAY JOIN {{include:order_ids}} AS OrderId
