-- Daily KPI series over capture days [start, end) for one segment filter (latest version per day).
SELECT
    Day AS day,
    sum(Orders) AS orders,
    sum(Touchless) AS touchless,
    sum(PerfectEligible) AS perfect_eligible,
    sum(Perfect) AS perfect,
    sum(length(CycleTimes)) AS cycle_n,
    quantilesExactInclusiveArray(0.5, 0.9, 0.95)(CycleTimes) AS cycle_q,
    sumMap(SlaEvaluated) AS sla_evaluated,
    sumMap(SlaMet) AS sla_met,
    sum(ExceptionsOpened) AS exceptions,
    sum(AllocationEligible) AS allocation_eligible,
    sum(AllocationAccurate) AS allocation_accurate,
    sum(length(InvoiceLatencies)) AS invoice_n,
    avgArray(InvoiceLatencies) AS invoice_mean,
    quantilesExactInclusiveArray(0.5, 0.9)(InvoiceLatencies) AS invoice_q,
    sum(length(ResolutionTimes)) AS resolution_n,
    avgArray(ResolutionTimes) AS resolution_mean,
    quantilesExactInclusiveArray(0.5, 0.9)(ResolutionTimes) AS resolution_q
FROM kpi_daily
WHERE Day >= {start:Date} AND Day < {end:Date}
  AND (Day, Version) IN (SELECT Day, max(Version) FROM kpi_daily WHERE Day >= {start:Date} AND Day < {end:Date} GROUP BY Day)
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
GROUP BY Day
ORDER BY Day
