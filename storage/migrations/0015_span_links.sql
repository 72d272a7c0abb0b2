-- Span links, reversed: for every link on a span, one row keyed by the *linked* trace, so that
-- "which spans in other traces link into this order's traces" is a point lookup on LinkedTraceId,
-- never a scan of otel_traces. Filled by a materialized view from otel_traces (tracing/crosswalk.py).
CREATE TABLE IF NOT EXISTS {{table:span_links}} {{on_cluster}} (
    LinkedTraceId String CODEC(ZSTD(1)),
    LinkedSpanId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1))
) ENGINE = {{engine:ReplacingMergeTree()}}
PARTITION BY toMonday(Timestamp)
ORDER BY (LinkedTraceId, LinkedSpanId, TraceId, SpanId)
{{ttl:span_links:toDateTime(Timestamp)}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1;

{{distributed:span_links:cityHash64(LinkedTraceId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`span_links_mv` {{on_cluster}}
TO {{table:span_links}}
AS SELECT
    LinkedTraceId,
    LinkedSpanId,
    TraceId,
    SpanId,
    Timestamp
FROM {{table:otel_traces}}
ARRAY JOIN `Links.TraceId` AS LinkedTraceId, `Links.SpanId` AS LinkedSpanId
WHERE LinkedTraceId != '';
