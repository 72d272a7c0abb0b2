-- The orders behind a variant (its id), an edge (source -> target), an activity, or none of them
-- (every order of the filter), newest first: what a click on the map or a variant opens.
WITH cases AS (/*CASES*/)
SELECT
    OrderId AS order_id,
    FirstHopAt AS first_hop_at,
    cycle_s,
    length(acts) AS hops,
    channel, region, erp, warehouse, tier AS customer_tier
FROM cases
WHERE ({activity:String} = '' OR has(acts, {activity:String}))
  AND ({variant:String} = '' OR lower(hex(PathId)) = {variant:String})
  AND ({source:String} = '' OR arrayExists((a, b) -> a = {source:String} AND b = {target:String},
                                            arrayPopBack(acts), arrayPopFront(acts)))
ORDER BY first_hop_at DESC, order_id
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
