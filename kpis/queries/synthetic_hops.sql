-- Synthetic orders straight into order_hops (what order_hops_mv makes of their spans), for
-- benchmarks of the KPI jobs at volumes where going through otel_traces and every materialized view
-- would dominate the set-up time. /*SPANS*/ is the SELECT of synthetic_spans.sql.
INSERT INTO order_hops (OrderId, Timestamp, DurationNs, TraceId, SpanId, SpanName, Stage, System, SystemKind,
                        Channel, Region, Warehouse, CustomerTier, CustomerId, Priority, OrderStatus, ManualTouch,
                        User, ExceptionType, ExceptionOutcome, StatusCode, ArrivedAt)
SELECT
    OrderId,
    Timestamp,
    Duration AS DurationNs,
    TraceId,
    SpanId,
    SpanName,
    SpanAttributes['order.stage'] AS Stage,
    multiIf(SpanAttributes['system.instance'] != '', SpanAttributes['system.instance'],
            ResourceAttributes['system.instance'] != '', ResourceAttributes['system.instance'],
            ServiceName) AS System,
    if(SpanAttributes['system.kind'] != '', SpanAttributes['system.kind'], ResourceAttributes['system.kind']) AS SystemKind,
    SpanAttributes['order.channel'] AS Channel,
    SpanAttributes['order.region'] AS Region,
    SpanAttributes['warehouse.id'] AS Warehouse,
    SpanAttributes['customer.tier'] AS CustomerTier,
    SpanAttributes['customer.id'] AS CustomerId,
    SpanAttributes['order.priority'] AS Priority,
    SpanAttributes['order.status'] AS OrderStatus,
    toUInt8(lower(SpanAttributes['order.manual_touch']) = 'true' OR SpanAttributes['enduser.id'] != '') AS ManualTouch,
    SpanAttributes['enduser.id'] AS User,
    SpanAttributes['order.exception.type'] AS ExceptionType,
    SpanAttributes['order.exception.outcome'] AS ExceptionOutcome,
    StatusCode,
    now64(3) AS ArrivedAt
FROM (/*SPANS*/)
ARRAY JOIN multiIf(SpanAttributes['order.id'] != '', [SpanAttributes['order.id']],
              startsWith(SpanAttributes['order.batch.order_ids'], '['),
              JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'),
              [SpanAttributes['order.batch.order_ids']]) AS OrderId
WHERE OrderId != ''
