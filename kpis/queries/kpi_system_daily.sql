-- Recompute kpi_system_daily (per-system throughput, errors, latency) for whole days: every day when
-- {all} = 1, else the days of hops that arrived in (since, until], and the days in [from, to).
-- Hops counts order hops (a span shared by n orders counts n times); latencies are per hop. Input:
-- system_hops, order_spans by day and system (a day's rows are contiguous), each (order, span)
-- once (FINAL: a re-sent span counts once).
INSERT INTO kpi_system_daily
WITH
    days AS (
        SELECT DISTINCT Day FROM system_hops
        WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}
        UNION DISTINCT
        SELECT arrayJoin(arrayMap(d -> toDate({from:DateTime64(3)}) + d,
            range(toUInt32(greatest(dateDiff('day', toDate({from:DateTime64(3)}), toDate({to:DateTime64(3)})), 0)))))
    )
SELECT * EXCEPT (latency_quantiles) FROM (
SELECT
    Day,
    System,
    SystemKind,
    count() AS Hops,
    uniqExact(OrderId) AS Orders,
    sum(Error) AS Errors,
    avg(Duration) / 1e9 AS LatencyMeanS,
    -- both quantiles from one state (one copy of the durations, sorted once): the same values as
    -- quantileExactInclusive(0.5) and (0.95) apart, for less than half their memory
    quantilesExactInclusive(0.5, 0.95)(Duration) AS latency_quantiles,
    latency_quantiles[1] / 1e9 AS LatencyP50S,
    latency_quantiles[2] / 1e9 AS LatencyP95S,
    {version:UInt64} AS Version
FROM system_hops FINAL
WHERE {all:UInt8} = 1 OR Day IN days
GROUP BY Day, System, SystemKind
)
SETTINGS optimize_on_insert = 0, max_insert_threads = 2, do_not_merge_across_partitions_select_final = 1
