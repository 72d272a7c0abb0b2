-- Recompute kpi_system_daily (per-system throughput, errors, latency) for whole days: every day when
-- {all} = 1, else the days of hops that arrived in (since, until], and the days in [from, to).
-- A span naming many orders (a batch) counts once.
INSERT INTO kpi_system_daily
WITH
    days AS (
        SELECT DISTINCT toDate(Timestamp) AS Day FROM order_hops
        WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}
        UNION DISTINCT
        SELECT arrayJoin(arrayMap(d -> toDate({from:DateTime64(3)}) + d,
            range(toUInt32(greatest(dateDiff('day', toDate({from:DateTime64(3)}), toDate({to:DateTime64(3)})), 0)))))
    )
SELECT
    toDate(Timestamp) AS Day,
    System,
    SystemKind,
    uniqExact(SpanId) AS Hops,
    uniqExact(OrderId) AS Orders,
    uniqExactIf(SpanId, StatusCode = 'Error') AS Errors,
    arrayMap(x -> x.2, arrayDistinct(groupArray((SpanId, DurationNs / 1e9)))) AS Latencies,
    {version:UInt64} AS Version
FROM order_hops
WHERE {all:UInt8} = 1 OR toDate(Timestamp) IN days
GROUP BY Day, System, SystemKind
SETTINGS optimize_on_insert = 0
