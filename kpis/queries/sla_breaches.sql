-- Breached and at-risk orders as of {now}: completed late (breached), open past due (breached) or
-- open and due within the SLA's warning window (at_risk). time_to_breach_s < 0 means overdue.
-- total_rows counts every match (for paging), LIMIT/OFFSET pick the page.
SELECT *, count() OVER () AS total_rows FROM (
    SELECT
        OrderId AS order_id, Sla AS sla, Kind AS kind, Stage AS stage,
        multiIf(State = 'breached', 'breached', DueAt <= {now:DateTime64(3)}, 'breached', 'at_risk') AS status,
        State = 'open' AS open,
        StartAt AS start_at, DueAt AS due_at, EndAt AS end_at, TargetS AS target_s,
        if(State = 'open', greatest(dateDiff('millisecond', StartAt, {now:DateTime64(3)}), 0) / 1000.0,
           assumeNotNull(ElapsedS)) AS elapsed_s,
        if(State = 'open', dateDiff('millisecond', {now:DateTime64(3)}, DueAt) / 1000.0, NULL) AS time_to_breach_s,
        Business = 1 AS business_time,
        CurrentStage AS current_stage, CurrentSystem AS current_system,
        Channel AS channel, Region AS region, ErpInstance AS erp_instance, Warehouse AS warehouse,
        CustomerTier AS customer_tier, Priority AS priority, CaptureAt AS captured_at
    FROM sla_results FINAL
    WHERE (State = 'breached' OR (State = 'open' AND OrderStatus = 'open'
                                  AND DueAt <= {now:DateTime64(3)} + toIntervalMillisecond(toInt64(WarnS * 1000))))
      AND has({slas:Array(String)}, Sla)
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
