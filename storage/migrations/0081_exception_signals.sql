-- The exception signals of the order-keyed spans (include/exception_signals.sql), kept by a view as
-- rows reach order_spans: the order_exceptions job reads an order's few signals here instead of
-- re-reading all its spans and their events (issue 17). A span written twice collapses (the sort
-- key names the span and the event). Derived data: kpis.state.rebuild fills it from order_spans.
CREATE TABLE IF NOT EXISTS {{table:exception_signals}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    ExceptionType LowCardinality(String),
    Outcome LowCardinality(String),
    At DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    System LowCardinality(String),
    Stage LowCardinality(String),
    User String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Event UInt16,
    ArrivedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree()}}
ORDER BY (OrderId, ExceptionType, TraceId, SpanId, Event)
{{ttl:exception_signals:toDateTime(At)}}
SETTINGS index_granularity = 1024;

{{distributed:exception_signals:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`exception_signals_mv` {{on_cluster}}
TO {{table:exception_signals}}
AS {{include:exception_signals:order_spans}};
