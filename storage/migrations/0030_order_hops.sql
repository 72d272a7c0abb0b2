-- Order hops: a narrow, order-keyed copy of every span that names an order (order.id, or each id in
-- order.batch.order_ids), filled by a materialized view from otel_traces. The KPI jobs read this
-- instead of scanning otel_traces: one order's spans are a range on the sorting key, and ArrivedAt
-- (insert time, not event time) tells the incremental jobs which orders got new spans, late or not.
-- System follows the hop model: system.instance (span, then resource attribute), else service.name.
CREATE TABLE IF NOT EXISTS {{table:order_hops}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    DurationNs UInt64 CODEC(T64, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    Stage LowCardinality(String) CODEC(ZSTD(1)),
    System LowCardinality(String) CODEC(ZSTD(1)),
    SystemKind LowCardinality(String) CODEC(ZSTD(1)),
    Channel LowCardinality(String) CODEC(ZSTD(1)),
    Region LowCardinality(String) CODEC(ZSTD(1)),
    Warehouse LowCardinality(String) CODEC(ZSTD(1)),
    CustomerTier LowCardinality(String) CODEC(ZSTD(1)),
    CustomerId String CODEC(ZSTD(1)),
    Priority LowCardinality(String) CODEC(ZSTD(1)),
    OrderStatus LowCardinality(String) CODEC(ZSTD(1)),
    ManualTouch UInt8,
    User String CODEC(ZSTD(1)),
    ExceptionType LowCardinality(String) CODEC(ZSTD(1)),
    ExceptionOutcome LowCardinality(String) CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    ArrivedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (OrderId, Timestamp)
{{ttl:order_hops:toDateTime(Timestamp)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

{{distributed:order_hops:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_hops_mv` {{on_cluster}}
TO {{table:order_hops}}
AS SELECT
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
FROM {{table:otel_traces}}
ARRAY JOIN multiIf(SpanAttributes['order.id'] != '', [SpanAttributes['order.id']],
              startsWith(SpanAttributes['order.batch.order_ids'], '['),
              JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'),
              [SpanAttributes['order.batch.order_ids']]) AS OrderId
WHERE OrderId != '';

-- Exceptions reported as span events (order.exception.type on the event), one row per event.
-- Exceptions reported as span attributes are in order_hops.
CREATE TABLE IF NOT EXISTS {{table:order_exception_events}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Stage LowCardinality(String) CODEC(ZSTD(1)),
    System LowCardinality(String) CODEC(ZSTD(1)),
    ExceptionType LowCardinality(String) CODEC(ZSTD(1)),
    ExceptionOutcome LowCardinality(String) CODEC(ZSTD(1)),
    User String CODEC(ZSTD(1)),
    ArrivedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (OrderId, Timestamp)
{{ttl:order_exception_events:toDateTime(Timestamp)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

{{distributed:order_exception_events:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_exception_events_mv` {{on_cluster}}
TO {{table:order_exception_events}}
AS SELECT
    OrderId,
    ev.1 AS Timestamp,
    TraceId,
    SpanId,
    SpanAttributes['order.stage'] AS Stage,
    multiIf(SpanAttributes['system.instance'] != '', SpanAttributes['system.instance'],
            ResourceAttributes['system.instance'] != '', ResourceAttributes['system.instance'],
            ServiceName) AS System,
    ev.2['order.exception.type'] AS ExceptionType,
    ev.2['order.exception.outcome'] AS ExceptionOutcome,
    if(ev.2['enduser.id'] != '', ev.2['enduser.id'], SpanAttributes['enduser.id']) AS User,
    now64(3) AS ArrivedAt
FROM {{table:otel_traces}}
ARRAY JOIN arrayFilter(e -> e.2['order.exception.type'] != '',
                       arrayZip(`Events.Timestamp`, `Events.Attributes`)) AS ev
ARRAY JOIN multiIf(SpanAttributes['order.id'] != '', [SpanAttributes['order.id']],
              startsWith(SpanAttributes['order.batch.order_ids'], '['),
              JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'),
              [SpanAttributes['order.batch.order_ids']]) AS OrderId
WHERE OrderId != '';
