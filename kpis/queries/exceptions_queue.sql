-- The exceptions queue: filters by status, type, system, owner and segment; oldest first;
-- total_rows counts every match (for paging), LIMIT/OFFSET pick the page. age_min/age_max (seconds,
-- age_max 0 = no limit) pick one aging bucket.
SELECT
    OrderId AS order_id, ExceptionType AS exception_type, System AS system, Stage AS stage,
    OpenedAt AS opened_at, ResolvedAt AS resolved_at, ResolvedBy AS resolved_by, ResolutionS AS resolution_s,
    Status AS status, Owner AS owner, Comments AS comments,
    greatest(dateDiff('millisecond', OpenedAt, coalesce(ResolvedAt, {now:DateTime64(3)})), 0) / 1000.0 AS age_s,
    Channel AS channel, Region AS region, ErpInstance AS erp_instance, Warehouse AS warehouse,
    CustomerTier AS customer_tier, Priority AS priority,
    count() OVER () AS total_rows
FROM order_exceptions FINAL
WHERE ({status:String} = '' OR Status = {status:String})
  AND ({exception_type:String} = '' OR ExceptionType = {exception_type:String})
  AND ({system:String} = '' OR System = {system:String})
  AND ({owner:String} = '' OR Owner = {owner:String})
  AND ({order_id:String} = '' OR OrderId = {order_id:String})
  AND OpenedAt >= {since:DateTime64(3)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
  AND age_s >= {age_min:Float64}
  AND ({age_max:Float64} = 0 OR age_s < {age_max:Float64})
ORDER BY OpenedAt ASC, OrderId, ExceptionType
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
