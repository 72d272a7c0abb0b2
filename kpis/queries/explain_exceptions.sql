-- The exceptions behind the exception KPIs: opened on days [start, end), longest resolution first.
SELECT OrderId AS order_id, ExceptionType AS exception_type, System AS system, Stage AS stage,
       OpenedAt AS opened_at, ResolvedAt AS resolved_at, ResolutionS AS resolution_s, Status AS status, Owner AS owner
FROM order_exceptions FINAL
WHERE OpenedAt >= {start:DateTime64(3)} AND OpenedAt < {end:DateTime64(3)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
ORDER BY coalesce(ResolutionS, 1e18) DESC, OpenedAt, OrderId
LIMIT {limit:UInt32}
