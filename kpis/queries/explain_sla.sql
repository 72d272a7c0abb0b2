-- The orders behind an SLA's attainment: breached (completed late) results of orders captured on days
-- [start, end), worst overrun first.
SELECT OrderId AS order_id, CaptureAt AS captured_at, StartAt AS start_at, EndAt AS end_at, DueAt AS due_at,
       TargetS AS target_s, assumeNotNull(ElapsedS) AS elapsed_s, Business = 1 AS business_time
FROM sla_results FINAL
WHERE Sla = {sla:String} AND State = 'breached' AND CaptureAt >= {start:DateTime64(3)} AND CaptureAt < {end:DateTime64(3)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
ORDER BY elapsed_s - target_s DESC, OrderId
LIMIT {limit:UInt32}
