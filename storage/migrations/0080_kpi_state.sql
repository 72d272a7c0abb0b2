-- The KPI engine's incremental state (issue 17). order_state keeps, per order, aggregate states of
-- everything order_facts needs (include/order_state.sql), fed by a materialized view as rows reach
-- order_spans (named, keyed, attributed later, backfilled): the order_facts job merges the states
-- of the orders touched since its watermark instead of re-reading their spans, and a full recompute
-- reads one row per order. system_hops is order_spans by day and system, narrow, for
-- kpi_system_daily. Both are derived data: kpis.state.rebuild fills them from order_spans (tower
-- migrate does for a store that held spans before this migration).
CREATE TABLE IF NOT EXISTS {{table:order_state}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    FirstMs SimpleAggregateFunction(min, Int64),
    LastMs SimpleAggregateFunction(max, Int64),
    LastAt SimpleAggregateFunction(max, DateTime),
    Hops AggregateFunction(groupUniqArrayIf, Tuple(Int64, Int64, String, String, UInt64), UInt8),
    StageStart AggregateFunction(minMapIf, Map(String, Int64), UInt8),
    StageEnd AggregateFunction(maxMapIf, Map(String, Int64), UInt8),
    ChannelFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    RegionFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    ErpFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    WarehouseFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    TierFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    PriorityFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    CustomerFirst AggregateFunction(minIf, Tuple(Int64, String), UInt8),
    Errors AggregateFunction(uniqExactIf, UInt64, UInt8),
    Touches AggregateFunction(uniqExactIf, UInt64, UInt8),
    FirstTouch AggregateFunction(minIf, Tuple(Int64, String, String, String), UInt8),
    Statuses AggregateFunction(groupUniqArrayIf, String, UInt8),
    Exceptions AggregateFunction(groupUniqArrayArray, Array(String)),
    Allocations AggregateFunction(uniqExactIf, UInt64, UInt8)
) ENGINE = {{engine:AggregatingMergeTree()}}
ORDER BY OrderId
-- no TTL: a row-level TTL would delete an order's partial states (one row per insert) before they
-- merge, losing hops of orders still in retention; one small row per order is kept like its facts
SETTINGS index_granularity = 1024;

{{distributed:order_state:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_state_mv` {{on_cluster}}
TO {{table:order_state}}
AS {{include:order_state:order_spans}};

CREATE TABLE IF NOT EXISTS {{table:system_hops}} {{on_cluster}} (
    Day Date,
    System LowCardinality(String),
    SystemKind LowCardinality(String),
    OrderId String CODEC(ZSTD(1)),
    SpanKey UInt64,
    Duration UInt64 CODEC(T64, ZSTD(1)),
    Error UInt8,
    ArrivedAt DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree()}}
PARTITION BY toYYYYMM(Day)
ORDER BY (Day, System, SystemKind, OrderId, SpanKey)
{{ttl:system_hops:Day}}
SETTINGS ttl_only_drop_parts = 1;

-- sharded like order_spans (by order), so a span's rows written by the view and by a rebuild meet
-- on one shard and collapse
{{distributed:system_hops:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`system_hops_mv` {{on_cluster}}
TO {{table:system_hops}}
AS {{include:system_hops:order_spans}};
