-- The columns of a breached or at-risk SLA of sla_results as of {now}, shared by sla_breaches.sql
-- (the pages) and order_sla_breaches.sql (one order's timeline): the same states and figures.
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
