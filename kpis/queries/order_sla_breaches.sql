-- One order's breached and at-risk SLAs as of {now}: kpis/queries/sla_breaches.sql for a single order
-- (same columns and states), as a point read of sla_results by its key without the paging window.
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
WHERE OrderId = {order_id:String}
  AND has({slas:Array(String)}, Sla)
  AND (State = 'breached' OR (State = 'open' AND OrderStatus = 'open'
                              AND DueAt <= {now:DateTime64(3)} + toIntervalMillisecond(toInt64(WarnS * 1000))))
ORDER BY open DESC, coalesce(time_to_breach_s, 0) ASC, due_at ASC
LIMIT {limit:UInt32}
