-- Conformance of the filter's orders against the expected paths (kpis.process.conformance builds the
-- parameters from the policy's `process` section): per order, its deviations as (kind, detail):
--   rework   an activity done again ("credit @ erp-east" twice), except in repeatable stages;
--   skipped  an expected stage with no hop while a stage expected after it has one (ship, no allocation);
--   order    a stage whose first hop started before the first hop of a stage expected before it
--            ("invoice before ship"); stages of one group (same rank) may come in any order.
-- The expected path is the one of the order's channel, else the default (index 1).
WITH cases AS (/*CASES*/)
SELECT OrderId, channel, region, erp, warehouse, tier, FirstHopAt, starts, cycle_s,
       arrayConcat(
           arrayMap(a -> ('rework', a), arrayDistinct(arrayFilter(
               (a, n, s) -> n > 1 AND NOT has({repeatable:Array(String)}, s), acts, arrayEnumerateUniq(acts), stages))),
           arrayMap(s -> ('skipped', s), arrayFilter(
               (s, p, r) -> p = 0 AND arrayExists((p2, r2) -> p2 > 0 AND r2 > r, pos, rk), exp, pos, rk)),
           arrayMap(v -> ('order', v), arrayFlatten(arrayMap(
               (a, pa, ra, ta) -> arrayMap(b -> concat(b, ' before ', a), arrayFilter(
                   (b, pb, rb, tb) -> pa > 0 AND pb > 0 AND rb > ra AND tb < ta, exp, pos, rk, first_ns)),
               exp, pos, rk, first_ns)))
       ) AS deviations
FROM (
    SELECT *,
        greatest(indexOf({path_channels:Array(String)}, channel), 1) AS path_index,
        {path_stages:Array(Array(String))}[path_index] AS exp,
        {path_ranks:Array(Array(UInt16))}[path_index] AS rk,
        arrayMap(s -> indexOf(stages, s), exp) AS pos,
        arrayMap(p -> if(p = 0, toInt64(0), starts[p]), pos) AS first_ns
    FROM cases
)
