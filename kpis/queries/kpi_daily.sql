-- Recompute kpi_daily for whole days: every day when {all} = 1, else the days {days} (found by
-- kpi_daily_days.sql, which the job runs first: as a CTE here it was evaluated once per reference).
-- All rows of a recomputed day share one Version; readers keep, per day, only the latest Version,
-- so a segment (or day) that no longer has orders disappears.
INSERT INTO kpi_daily
WITH
    {days:Array(Date)} AS days,
    {sla_names:Array(String)} AS sla_names,
    {on_time_sla:String} AS on_time_sla,
    -- SLAs evaluated: most orders completed every SLA (1M orders: 99%); those are counted in
    -- sla_all, only the others' SLAs are summed by name, and the two are added per group. Same
    -- map as summing a map per order (keys ascending, only those that occurred), which with
    -- groupArrayArray of [] or [value] for the times cost 0.58-0.65 CPU-s for 1M settled orders
    -- (0.9-0.95 as a process's first query), 0.42-0.47 this way (0.56-0.65).
    sumMap(sla_evaluated) AS evaluated_some,
    sum(sla_all) AS evaluated_all,
    -- the orders whose on-time SLA was breached, probed as a set (no order is perfect then)
    on_time AS (
        SELECT OrderId FROM sla_results FINAL
        WHERE Sla = on_time_sla AND State = 'breached' AND ({all:UInt8} = 1 OR toDate(CaptureAt) IN days)
    )
SELECT
    Day, Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority,
    sum(orders) AS Orders,
    sum(closed) AS Closed,
    sum(touchless) AS Touchless,
    sum(perfect_eligible) AS PerfectEligible,
    sum(perfect) AS Perfect,
    sum(alloc_eligible) AS AllocationEligible,
    sum(alloc_accurate) AS AllocationAccurate,
    -- groupArray skips NULLs (cycle, invoice and resolution are NULL when unknown or not that row's)
    groupArray(cycle) AS CycleTimes,
    groupArray(invoice) AS InvoiceLatencies,
    if(evaluated_all = 0, evaluated_some,
       mapFromArrays(arraySort(sla_names), arrayMap(k -> evaluated_some[k] + evaluated_all, arraySort(sla_names))))
        AS SlaEvaluated,
    mapApply((k, v) -> (k, toUInt64(greatest(toInt64(v) - toInt64(sumMap(sla_breached)[k]), 0))), SlaEvaluated) AS SlaMet,
    sum(exc_opened) AS ExceptionsOpened,
    sum(exc_resolved) AS ExceptionsResolved,
    groupArray(resolution) AS ResolutionTimes,
    {version:UInt64} AS Version
FROM (
    SELECT
        toDate(f.CaptureAt) AS Day, f.Channel AS Channel, f.Region AS Region, f.ErpInstance AS ErpInstance,
        f.Warehouse AS Warehouse, f.CustomerTier AS CustomerTier, f.Priority AS Priority,
        1 AS orders,
        toUInt64(f.Status = 'closed') AS closed,
        toUInt64(f.Touchless) AS touchless,
        toUInt64(f.PerfectEligible) AS perfect_eligible,
        toUInt64(f.PerfectEligible = 1 AND f.PerfectOtherwise = 1 AND has(f.SlaCompleted, on_time_sla)
                AND f.OrderId NOT IN on_time) AS perfect,
        toUInt64(f.AllocationCount > 0) AS alloc_eligible,
        toUInt64(f.AllocationCount > 0 AND f.AllocationAccurate = 1) AS alloc_accurate,
        f.CycleTimeS AS cycle,
        f.InvoiceLatencyS AS invoice,
        toUInt64(f.SlaCompleted = sla_names) AS sla_all,
        -- evaluated lazily, only for the orders that did not complete every SLA
        if(sla_all = 1, map(),
           mapFromArrays(arrayFilter(x -> has(sla_names, x), f.SlaCompleted),
                         arrayMap(x -> toUInt64(1), arrayFilter(x -> has(sla_names, x), f.SlaCompleted))))
            :: Map(String, UInt64) AS sla_evaluated,
        map() :: Map(String, UInt64) AS sla_breached,
        toUInt64(0) AS exc_opened,
        toUInt64(0) AS exc_resolved,
        CAST(NULL AS Nullable(Float64)) AS resolution
    FROM (
        SELECT OrderId, CaptureAt, Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority, Status, Touchless,
               PerfectEligible, PerfectOtherwise, SlaCompleted, AllocationCount, AllocationAccurate, CycleTimeS,
               InvoiceLatencyS
        FROM order_facts FINAL
        -- the orders of those days found first (the index on CaptureAt, every version), then read
        -- by the primary key: with the day filter alone, FINAL read every part's rows in the key
        -- ranges of the day's granules (one day of 1M orders, right after a full recompute whose
        -- old versions were not merged yet: this query read 2.2-2.5M rows, 0.46-0.55 CPU-s; this
        -- way 0.72M, 0.18-0.24 CPU-s; once merged, 0.35M rows before, 0.40M this way, about 15 ms
        -- of CPU more). The day filter stays: an order's latest version decides its day.
        WHERE {all:UInt8} = 1
           OR (OrderId IN (SELECT OrderId FROM order_facts WHERE toDate(CaptureAt) IN days)
               AND toDate(CaptureAt) IN days)
    ) AS f
    UNION ALL
    SELECT
        toDate(CaptureAt), Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority,
        0, 0, 0, 0, 0, 0, 0, NULL, NULL,
        0, map(), map(Sla, toUInt64(1)),
        0, 0, NULL
    FROM sla_results FINAL
    WHERE State = 'breached' AND has(sla_names, Sla)
      AND ({all:UInt8} = 1 OR toDate(CaptureAt) IN days)
    UNION ALL
    SELECT
        toDate(OpenedAt), Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority,
        0, 0, 0, 0, 0, 0, 0, NULL, NULL, 0, map(), map(),
        1, toUInt64(Status = 'resolved'), ResolutionS
    FROM order_exceptions FINAL
    WHERE {all:UInt8} = 1 OR toDate(OpenedAt) IN days
    UNION ALL
    -- one zero row per recomputed day, so a day whose orders all moved away gets a new version too
    SELECT Day, '', '', '', '', '', '', 0, 0, 0, 0, 0, 0, 0, NULL, NULL, 0, map(), map(), 0, 0, NULL
    FROM (SELECT arrayJoin(days) AS Day UNION DISTINCT SELECT DISTINCT Day FROM kpi_daily WHERE {all:UInt8} = 1)
)
GROUP BY Day, Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority
SETTINGS join_use_nulls = 0, optimize_on_insert = 0,
         use_skip_indexes_if_final = 1, use_skip_indexes_if_final_exact_mode = 1
