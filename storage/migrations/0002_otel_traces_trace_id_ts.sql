-- Trace id -> time range, as the clickhouseexporter creates it (traces_id_ts_lookup_table.sql and
-- traces_id_ts_lookup_mv.sql). Bounds every read of otel_traces by trace id.
CREATE TABLE IF NOT EXISTS {{table:otel_traces_trace_id_ts}} {{on_cluster}} (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
{{ttl:otel_traces_trace_id_ts:toDateTime(Start)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

{{distributed:otel_traces_trace_id_ts:cityHash64(TraceId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`otel_traces_trace_id_ts_mv` {{on_cluster}}
TO {{table:otel_traces_trace_id_ts}}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {{table:otel_traces}}
WHERE TraceId != ''
GROUP BY TraceId;
