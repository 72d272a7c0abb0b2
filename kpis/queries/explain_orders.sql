-- The orders behind a KPI value: orders captured on days [start, end) in the segment, with what the
-- explanation needs. {kpi} picks which orders count against the KPI:
--   touchless_rate      orders with a manual touch
--   perfect_order_rate  closed orders that are not perfect
--   allocation_accuracy orders whose first allocation did not hold
--   cycle_time          shipped orders, slowest first
--   invoice_latency     invoiced orders, slowest first
--   orders              every order
SELECT
    f.OrderId AS order_id, f.CaptureAt AS captured_at, f.Status AS status, f.CurrentStage AS current_stage,
    f.ManualTouchCount AS manual_touches, f.FirstTouchStage AS touch_stage, f.FirstTouchSystem AS touch_system,
    f.FirstTouchUser AS touch_user, f.FirstTouchAt AS touch_at,
    f.PerfectMiss AS perfect_miss, f.ExceptionTypes AS exception_types, f.OrderStatuses AS order_statuses,
    has(f.SlaCompleted, {on_time_sla:String}) AS on_time_completed, o.State AS on_time_state, o.ElapsedS AS on_time_elapsed_s, o.TargetS AS on_time_target_s,
    f.AllocationCount AS allocations, f.CycleTimeS AS cycle_time_s, f.InvoiceLatencyS AS invoice_latency_s
FROM (
    SELECT * FROM order_facts FINAL
    WHERE CaptureAt >= {start:DateTime64(3)} AND CaptureAt < {end:DateTime64(3)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
) AS f
LEFT JOIN (
    SELECT OrderId, State, ElapsedS, TargetS FROM sla_results FINAL
    WHERE Sla = {on_time_sla:String} AND CaptureAt >= {start:DateTime64(3)} AND CaptureAt < {end:DateTime64(3)}
) AS o ON o.OrderId = f.OrderId
WHERE multiIf(
    {kpi:String} = 'touchless_rate', f.Touchless = 0,
    {kpi:String} = 'perfect_order_rate', f.PerfectEligible = 1
        AND NOT (f.PerfectOtherwise = 1 AND has(f.SlaCompleted, {on_time_sla:String}) AND coalesce(o.State, '') != 'breached'),
    {kpi:String} = 'allocation_accuracy', f.AllocationCount > 0 AND f.AllocationAccurate = 0,
    {kpi:String} = 'cycle_time', f.CycleTimeS IS NOT NULL,
    {kpi:String} = 'invoice_latency', f.InvoiceLatencyS IS NOT NULL,
    1)
ORDER BY multiIf({kpi:String} = 'cycle_time', -coalesce(f.CycleTimeS, 0),
                 {kpi:String} = 'invoice_latency', -coalesce(f.InvoiceLatencyS, 0), 0),
         f.CaptureAt, f.OrderId
LIMIT {limit:UInt32}
SETTINGS join_use_nulls = 1
