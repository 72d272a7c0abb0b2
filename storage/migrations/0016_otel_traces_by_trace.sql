-- Spans again, sorted by trace id with small granules, for reading whole traces and an order's
-- spans by reference. otel_traces keeps the clickhouseexporter's sort key (service, span name,
-- time), so the ten spans of one order sit in ten different 8192-row granules there; here a trace
-- is a few 256-row granules. Filled by a materialized view from otel_traces (so the Collector's
-- exporter or the tower's collector may write); read by tracing/crosswalk.py. Costs a second copy
-- of the spans (retention: ttl_days.otel_traces_by_trace). Spans stored before this migration (an
-- existing exporter database) are copied once with:
--   INSERT INTO otel_traces_by_trace SELECT <the columns above> FROM otel_traces
CREATE TABLE IF NOT EXISTS {{table:otel_traces_by_trace}} {{on_cluster}} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1))
) ENGINE = {{engine:ReplacingMergeTree()}}
PARTITION BY toMonday(Timestamp)
ORDER BY (TraceId, SpanId)
{{ttl:otel_traces_by_trace:toDateTime(Timestamp)}}
SETTINGS index_granularity = 256, ttl_only_drop_parts = 1{{dedup_window}};

{{distributed:otel_traces_by_trace:cityHash64(TraceId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`otel_traces_by_trace_mv` {{on_cluster}}
TO {{table:otel_traces_by_trace}}
AS SELECT
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
FROM {{table:otel_traces}};

-- A replayed collector batch (same insert_deduplication_token) is dropped in the link index too.
ALTER TABLE {{table:span_links}} {{on_cluster}} MODIFY SETTING non_replicated_deduplication_window = 10000;
