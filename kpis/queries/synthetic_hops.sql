-- Synthetic orders straight into order_spans (what order_spans_named_mv makes of their spans: the
-- hop projection is computed by the table's columns), for benchmarks of the KPI jobs at volumes where
-- going through otel_traces and every materialized view would dominate the set-up time. /*SPANS*/ is
-- the SELECT of synthetic_spans.sql.
INSERT INTO order_spans (
    OrderId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, SpanAttributes, Duration, StatusCode, Via, Rank
)
SELECT
    OrderId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, SpanAttributes, Duration, StatusCode,
    if(OrderId = SpanAttributes['order.id'], 'order', 'batch') AS Via,
    toUInt8(if(OrderId = SpanAttributes['order.id'], 6, 5)) AS Rank
FROM (/*SPANS*/)
ARRAY JOIN multiIf(SpanAttributes['order.id'] != '', [SpanAttributes['order.id']],
              startsWith(SpanAttributes['order.batch.order_ids'], '['),
              JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'),
              [SpanAttributes['order.batch.order_ids']]) AS OrderId
WHERE OrderId != ''
