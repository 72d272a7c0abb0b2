-- What the models of ai/ read besides order_hops, filled by materialized views from otel_traces.
--
-- ai_order_lines: what was ordered (order.line.skus / order.line.quantities / order.amount, the
-- customer's credit tier, the PO and web order id), one row per span that carries the lines and names
-- an order. Readers take the earliest row of an order. Kept longer than spans: duplicate and spike
-- detection compare an order with the customer's history.
CREATE TABLE IF NOT EXISTS {{table:ai_order_lines}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    DurationNs UInt64 CODEC(T64, ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    CustomerId String CODEC(ZSTD(1)),
    CreditTier LowCardinality(String) CODEC(ZSTD(1)),
    CustomerTier LowCardinality(String) CODEC(ZSTD(1)),
    Channel LowCardinality(String) CODEC(ZSTD(1)),
    Region LowCardinality(String) CODEC(ZSTD(1)),
    Priority LowCardinality(String) CODEC(ZSTD(1)),
    System LowCardinality(String) CODEC(ZSTD(1)),
    CustomerPo String CODEC(ZSTD(1)),
    EcommerceId String CODEC(ZSTD(1)),
    Amount Float64,
    Currency LowCardinality(String),
    Quantity Int64,
    Skus Array(String) CODEC(ZSTD(1)),
    Quantities Array(Int64) CODEC(ZSTD(1)),
    ArrivedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (CustomerId, Timestamp, OrderId)
{{ttl:ai_order_lines:toDateTime(Timestamp)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

{{distributed:ai_order_lines:cityHash64(CustomerId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`ai_order_lines_mv` {{on_cluster}}
TO {{table:ai_order_lines}}
AS SELECT
    SpanAttributes['order.id'] AS OrderId,
    Timestamp,
    Duration AS DurationNs,
    SpanId,
    SpanAttributes['customer.id'] AS CustomerId,
    SpanAttributes['customer.credit_tier'] AS CreditTier,
    SpanAttributes['customer.tier'] AS CustomerTier,
    SpanAttributes['order.channel'] AS Channel,
    SpanAttributes['order.region'] AS Region,
    SpanAttributes['order.priority'] AS Priority,
    multiIf(SpanAttributes['system.instance'] != '', SpanAttributes['system.instance'],
            ResourceAttributes['system.instance'] != '', ResourceAttributes['system.instance'],
            ServiceName) AS System,
    SpanAttributes['order.customer_po'] AS CustomerPo,
    SpanAttributes['order.ecommerce_id'] AS EcommerceId,
    toFloat64OrZero(SpanAttributes['order.amount']) AS Amount,
    SpanAttributes['order.currency'] AS Currency,
    toInt64OrZero(SpanAttributes['order.quantity']) AS Quantity,
    JSONExtract(SpanAttributes['order.line.skus'], 'Array(String)') AS Skus,
    JSONExtract(SpanAttributes['order.line.quantities'], 'Array(Int64)') AS Quantities,
    now64(3) AS ArrivedAt
FROM {{table:otel_traces}}
WHERE SpanAttributes['order.id'] != '' AND startsWith(SpanAttributes['order.line.skus'], '[');

-- ai_exception_spans: every span that carries an exception, with what the system said (status
-- message, error.type, order.exception.message) and, on resolving spans, the reason code recorded
-- (order.exception.root_cause). One row per order the span names (order.id, or each id of
-- order.batch.order_ids); spans naming no order keep their PO (attributed at read time by key).
CREATE TABLE IF NOT EXISTS {{table:ai_exception_spans}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    CustomerPo String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    DurationNs UInt64 CODEC(T64, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    Stage LowCardinality(String) CODEC(ZSTD(1)),
    System LowCardinality(String) CODEC(ZSTD(1)),
    SystemKind LowCardinality(String) CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    ErrorType LowCardinality(String) CODEC(ZSTD(1)),
    ExceptionType LowCardinality(String) CODEC(ZSTD(1)),
    ExceptionOutcome LowCardinality(String) CODEC(ZSTD(1)),
    Message String CODEC(ZSTD(1)),
    RootCause LowCardinality(String) CODEC(ZSTD(1)),
    ArrivedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (OrderId, Timestamp, SpanId)
{{ttl:ai_exception_spans:toDateTime(Timestamp)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

{{distributed:ai_exception_spans:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`ai_exception_spans_mv` {{on_cluster}}
TO {{table:ai_exception_spans}}
AS SELECT
    OrderId,
    SpanAttributes['order.customer_po'] AS CustomerPo,
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
    StatusCode,
    StatusMessage,
    SpanAttributes['error.type'] AS ErrorType,
    SpanAttributes['order.exception.type'] AS ExceptionType,
    SpanAttributes['order.exception.outcome'] AS ExceptionOutcome,
    SpanAttributes['order.exception.message'] AS Message,
    SpanAttributes['order.exception.root_cause'] AS RootCause,
    now64(3) AS ArrivedAt
FROM {{table:otel_traces}}
ARRAY JOIN multiIf(SpanAttributes['order.id'] != '', [SpanAttributes['order.id']],
              startsWith(SpanAttributes['order.batch.order_ids'], '['),
              JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'),
              [SpanAttributes['order.batch.order_ids']]) AS OrderId
WHERE SpanAttributes['order.exception.type'] != '';
