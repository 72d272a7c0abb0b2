-- The orders of a process filter, one row each, from order_paths (each order's latest row): an
-- order is in the filter when its first hop started in [start, end) and its segment matches every
-- non-empty filter value. The other process queries put this text where they say /*CASES*/. The
-- exports read the orders in ranges of order ids: they put a range condition at the RANGE placeholder.
SELECT OrderId, FirstHopAt, Activities AS acts, Stages AS stages, Starts AS starts, Waits AS waits,
       CycleS AS cycle_s, PathId, Channel AS channel, Region AS region, Erp AS erp,
       Warehouse AS warehouse, CustomerTier AS tier
FROM order_paths FINAL
WHERE FirstHopAt >= {start:DateTime64(9)} AND FirstHopAt < {end:DateTime64(9)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp:String} = '' OR Erp = {erp:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  /*RANGE*/
