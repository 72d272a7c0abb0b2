-- Process mining (kpis/process): each order's path, one row per order, so that the directly-follows
-- map, the variants and the conformance of a million orders are one scan of compact arrays instead
-- of a regrouping of every span. Written by the order_paths job (kpis.process.paths) from the
-- order-keyed table order_spans: each span once, hops (spans with order.stage) sorted by (start,
-- end); an order's row is recomputed whenever one of its spans arrives (newest Version wins).
-- Activity = "<stage> @ <system>"; Waits[i] = the handoff gap between hop i and hop i+1 in seconds.
CREATE TABLE IF NOT EXISTS {{table:order_paths}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    FirstHopAt DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    LastHopEndAt DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    Channel LowCardinality(String),
    Region LowCardinality(String),
    Erp LowCardinality(String),
    Warehouse LowCardinality(String),
    CustomerTier LowCardinality(String),
    Activities Array(LowCardinality(String)),
    Stages Array(LowCardinality(String)),
    Starts Array(Int64) CODEC(Delta(8), ZSTD(1)),
    Waits Array(Float64) CODEC(ZSTD(1)),
    CycleS Float64,
    PathId UInt64,
    Version UInt64,
    INDEX idx_first FirstHopAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY OrderId
{{ttl:order_paths:toDateTime(FirstHopAt)}}
SETTINGS index_granularity = 8192;

{{distributed:order_paths:cityHash64(OrderId)}};
