-- The filter's orders with deviations (of one kind, or one deviation, when given), newest first.
WITH devs AS (/*DEVIATIONS*/)
SELECT OrderId AS order_id, FirstHopAt AS first_hop_at, cycle_s,
       channel, region, erp, warehouse, tier AS customer_tier,
       arrayMap(d -> d.1, deviations) AS kinds, arrayMap(d -> d.2, deviations) AS details,
       countIf(1) OVER () AS total
FROM devs
WHERE notEmpty(deviations)
  AND ({kind:String} = '' OR arrayExists(d -> d.1 = {kind:String}, deviations))
  AND ({detail:String} = '' OR arrayExists(d -> d.2 = {detail:String}, deviations))
ORDER BY first_hop_at DESC, order_id
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
