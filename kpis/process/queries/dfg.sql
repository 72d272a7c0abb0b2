-- The directly-follows map of the filter's orders: one row per edge (target '' after an order's last
-- hop). Orders of one path share their edges, so the orders are first grouped by (path, position)
-- on integers and only the groups are turned into activity pairs: transitions (how often the edge
-- was taken), orders (how many orders took it, once each even when they loop), median and p90 wait,
-- plus per source activity the events, orders that started there and orders that had it (first
-- occurrence in the path), summed by kpis.process.mining.
WITH cases AS (/*CASES*/)
SELECT
    path[i] AS source,
    if(i < length(path), path[i + 1], '') AS target,
    sum(n) AS transitions,
    sum(edge_first) AS orders,
    sum(act_first) AS source_orders,
    sumIf(n, i = 1) AS starts,
    quantilesExactMerge(0.5, 0.9)(q) AS wait_q
FROM (
    SELECT PathId, i, any(acts) AS path, count() AS n,
           if(arrayFirstIndex((a, b) -> a = path[i] AND b = if(i < length(path), path[i + 1], ''),
                              path, arrayPushBack(arrayPopFront(path), '')) = i, n, 0) AS edge_first,
           if(indexOf(path, path[i]) = i, n, 0) AS act_first,
           quantilesExactStateIf(0.5, 0.9)(waits[i], i < length(acts)) AS q
    FROM cases
    ARRAY JOIN arrayEnumerate(acts) AS i
    GROUP BY PathId, i
)
GROUP BY source, target
ORDER BY transitions DESC, source, target
