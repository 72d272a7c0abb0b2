-- kpi_system_daily v2: latency percentiles per day and system instead of every latency (derived
-- data: the kpi_system_daily job recomputes it; `tower kpis run --full --job kpi_system_daily`).
DROP TABLE IF EXISTS {{db}}.`kpi_system_daily` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{table:kpi_system_daily}} {{on_cluster}} SYNC;

CREATE TABLE IF NOT EXISTS {{table:kpi_system_daily}} {{on_cluster}} (
    Day Date,
    System LowCardinality(String),
    SystemKind LowCardinality(String),
    Hops UInt64,
    Orders UInt64,
    Errors UInt64,
    LatencyMeanS Float64,
    LatencyP50S Float64,
    LatencyP95S Float64,
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (Day, System, SystemKind)
{{ttl:kpi_system_daily:toDateTime(Day)}};

{{distributed:kpi_system_daily:cityHash64(Day)}};
