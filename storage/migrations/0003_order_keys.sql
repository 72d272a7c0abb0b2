-- Business keys -> orders and traces. "Find an order by any key" is a point lookup on Key here,
-- never a scan of otel_traces. Which span attributes are keys is data (tower_key_attributes),
-- written at migrate time from the conventions in tracing/, so new key attributes need no DDL.
CREATE TABLE IF NOT EXISTS {{table:tower_key_attributes}} {{on_cluster}} (
    Name String,
    IsOrderId UInt8,
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY Name;

{{distributed:tower_key_attributes:rand()}};

CREATE TABLE IF NOT EXISTS {{table:order_keys}} {{on_cluster}} (
    Key String CODEC(ZSTD(1)),
    KeyType LowCardinality(String) CODEC(ZSTD(1)),
    OrderId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1))
) ENGINE = {{engine:ReplacingMergeTree()}}
PARTITION BY toMonday(Timestamp)
ORDER BY (Key, KeyType, OrderId, TraceId, SpanId)
{{ttl:order_keys:toDateTime(Timestamp)}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1;

{{distributed:order_keys:cityHash64(Key)}};

-- One row per key value: list-valued attributes (JSON arrays, as the exporter stores OTLP arrays)
-- give one row per element. OrderId is the key itself for order-id attributes (order.id and the
-- order lists of batch spans), else the span's order.id.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_keys_mv` {{on_cluster}}
TO {{table:order_keys}}
AS
WITH
    (SELECT groupArray(Name) FROM {{table:tower_key_attributes}} FINAL) AS key_names,
    (SELECT groupArray(Name) FROM {{table:tower_key_attributes}} FINAL WHERE IsOrderId = 1) AS order_names
SELECT
    Key,
    kv.1 AS KeyType,
    if(has(order_names, kv.1), Key, SpanAttributes['order.id']) AS OrderId,
    TraceId,
    SpanId,
    Timestamp
FROM {{table:otel_traces}}
ARRAY JOIN arrayFilter(kv -> has(key_names, kv.1) AND kv.2 != '', CAST(SpanAttributes, 'Array(Tuple(String, String))')) AS kv
ARRAY JOIN if(startsWith(kv.2, '['), JSONExtract(kv.2, 'Array(String)'), [kv.2]) AS Key
WHERE Key != '';
