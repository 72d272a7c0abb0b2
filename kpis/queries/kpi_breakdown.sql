-- KPI values over capture days [start, end) split by one segment dimension (the dimension is a
-- bound parameter choosing a column, never an identifier), for the KPI page's breakdown tables.
SELECT
    multiIf({dimension:String} = 'channel', Channel,
            {dimension:String} = 'region', Region,
            {dimension:String} = 'erp_instance', ErpInstance,
            {dimension:String} = 'warehouse', Warehouse,
            {dimension:String} = 'customer_tier', CustomerTier,
            Priority) AS value,
    sum(Orders) AS orders,
    sum(Touchless) AS touchless,
    sum(PerfectEligible) AS perfect_eligible,
    sum(Perfect) AS perfect,
    sum(length(CycleTimes)) AS cycle_n,
    quantilesExactInclusiveArray(0.5, 0.9)(CycleTimes) AS cycle_q,
    sumMap(SlaEvaluated) AS sla_evaluated,
    sumMap(SlaMet) AS sla_met,
    sum(ExceptionsOpened) AS exceptions
FROM kpi_daily
WHERE Day >= {start:Date} AND Day < {end:Date}
  AND (Day, Version) IN (SELECT Day, max(Version) FROM kpi_daily WHERE Day >= {start:Date} AND Day < {end:Date} GROUP BY Day)
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
GROUP BY value
ORDER BY orders DESC, value
LIMIT 1000
