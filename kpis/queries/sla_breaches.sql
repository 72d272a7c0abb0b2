-- Breached and at-risk orders as of {now}: completed late (breached), open past due (breached) or
-- open and due within the SLA's warning window (at_risk). time_to_breach_s < 0 means overdue.
-- total_rows counts every match (for paging), LIMIT/OFFSET pick the page.
SELECT *, count() OVER () AS total_rows FROM (
    SELECT {{include:sla_breach_columns}}
    FROM sla_results FINAL
    WHERE {{include:sla_breach_states}}
      AND ({sla:String} = '' OR Sla = {sla:String})
      AND ({order_id:String} = '' OR OrderId = {order_id:String})
      AND ({open_only:UInt8} = 0 OR State = 'open')
      AND CaptureAt >= {since:DateTime64(3)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
)
WHERE {status:String} = '' OR status = {status:String}
ORDER BY open DESC, coalesce(time_to_breach_s, 0) ASC, due_at ASC
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
