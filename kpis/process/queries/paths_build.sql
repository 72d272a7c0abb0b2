-- The order_paths job: recompute the path of every order with a span that arrived in (since, until]
-- (late spans and late attributions included), or of the given orders, or of every order ({all} = 1).
-- Reads the order-keyed table: each span once (arrayDistinct over start, end, stage, system and the
-- span's identity collapses a re-sent span), hops = spans with order.stage sorted by (start, end);
-- segment = first non-empty value of each attribute (as order_facts).
INSERT INTO order_paths
WITH touched AS (
    SELECT OrderId FROM order_spans
    WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}
    UNION DISTINCT
    SELECT arrayJoin({orders:Array(String)}) AS OrderId
)
SELECT
    OrderId,
    fromUnixTimestamp64Nano(hops[1].1, 'UTC') AS FirstHopAt,
    fromUnixTimestamp64Nano(arrayMax(h -> h.2, hops), 'UTC') AS LastHopEndAt,
    channel, region, erp, warehouse, tier,
    arrayMap(h -> concat(h.3, ' @ ', h.4), hops) AS Activities,
    arrayMap(h -> h.3, hops) AS Stages,
    arrayMap(h -> h.1, hops) AS Starts,
    arrayMap((a, b) -> greatest(b.1 - a.2, 0) / 1e9, arrayPopBack(hops), arrayPopFront(hops)) AS Waits,
    (arrayMax(h -> h.2, hops) - hops[1].1) / 1e9 AS CycleS,
    cityHash64(Activities) AS PathId,
    {version:UInt64} AS Version
FROM (
    SELECT
        OrderId,
        arraySort(arrayDistinct(groupArrayIf(
            (toUnixTimestamp64Nano(Timestamp), toUnixTimestamp64Nano(Timestamp) + toInt64(Duration),
             Stage, System, cityHash64(TraceId, SpanId)),
            Stage != ''))) AS hops,
        argMinIf(Channel, Timestamp, Channel != '') AS channel,
        argMinIf(Region, Timestamp, Region != '') AS region,
        argMinIf(System, Timestamp, SystemKind = 'erp') AS erp,
        argMinIf(Warehouse, Timestamp, Warehouse != '') AS warehouse,
        argMinIf(CustomerTier, Timestamp, CustomerTier != '') AS tier
    FROM order_spans
    WHERE {all:UInt8} = 1 OR OrderId IN touched
    GROUP BY OrderId
)
WHERE notEmpty(hops)
