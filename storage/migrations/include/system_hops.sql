-- One narrow row per order and span of order_spans, by day and system: what kpi_system_daily
-- recomputes a day from (its rows are contiguous here; order_spans is sorted by order).
SELECT
    toDate(Timestamp) AS Day,
    System,
    SystemKind,
    OrderId,
    cityHash64(TraceId, SpanId) AS SpanKey,
    Duration,
    toUInt8(StatusCode = 'Error') AS Error,
    ArrivedAt
FROM {{source}}
