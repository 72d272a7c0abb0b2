-- Hops that name no order (no order.id, no order.batch.order_ids) but carry a strong business key:
-- an EDI 850 translation span with only the customer PO, a carrier event with only the tracking
-- number. One row per key value. The KPI jobs attribute them to the orders whose own spans carry
-- the same key (order_keys), as the crosswalk does for timelines. Weak keys (EDI control numbers,
-- batch ids) are shared by many orders and are not followed.
CREATE TABLE IF NOT EXISTS {{table:order_key_hops}} {{on_cluster}} (
    Key String CODEC(ZSTD(1)),
    KeyType LowCardinality(String) CODEC(ZSTD(1)),
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
ORDER BY (Key, KeyType, Timestamp)
{{ttl:order_key_hops:toDateTime(Timestamp)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

{{distributed:order_key_hops:cityHash64(Key)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_key_hops_mv` {{on_cluster}}
TO {{table:order_key_hops}}
AS SELECT
    Key,
    kv.1 AS KeyType,
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
ARRAY JOIN arrayFilter(kv -> has(['order.customer_po', 'order.ecommerce_id', 'shipment.id', 'shipment.tracking_number', 'invoice.id'], kv.1) AND kv.2 != '',
                       CAST(SpanAttributes, 'Array(Tuple(String, String))')) AS kv
ARRAY JOIN if(startsWith(kv.2, '['), JSONExtract(kv.2, 'Array(String)'), [kv.2]) AS Key
WHERE SpanAttributes['order.id'] = '' AND SpanAttributes['order.batch.order_ids'] = ''
  AND SpanAttributes['order.stage'] != '' AND Key != '';
