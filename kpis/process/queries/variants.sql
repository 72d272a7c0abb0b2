-- The filter's variants (distinct activity paths), most frequent first: orders, median and p90 cycle
-- time (first hop start to last hop end), a stable id (for links: cityHash64 of the path) and, before
-- the limit, how many orders and variants the filter holds.
WITH cases AS (/*CASES*/)
SELECT
    acts AS path,
    lower(hex(PathId)) AS variant_id,
    count() AS orders,
    quantileExactInclusive(0.5)(cycle_s) AS median_cycle_s,
    quantileExactInclusive(0.9)(cycle_s) AS p90_cycle_s,
    sum(count()) OVER () AS total_orders,
    count() OVER () AS total_variants
FROM cases
GROUP BY PathId, acts
ORDER BY orders DESC, path
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
