-- Recompute order_facts for the orders selected by the run: every order when {all} = 1, else the
-- orders with spans that *arrived* in (since, until] (late spans included), or with a span *starting*
-- in [from, to). Hop model (same as tracing/timeline.py): a hop is a span with order.stage; hop end =
-- start + duration; a handoff gap is the time from one hop's end to the next hop's start (hops sorted
-- by start), counted when positive.
INSERT INTO order_facts
WITH
    touched AS (
        SELECT OrderId FROM order_hops
        WHERE (ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)})
           OR (Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)})
        UNION DISTINCT
        SELECT OrderId FROM order_exception_events
        WHERE (ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)})
           OR (Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)})
        UNION DISTINCT
        SELECT arrayJoin({orders:Array(String)}) AS OrderId
    ),
    h AS (
        SELECT
            OrderId,
            min(s_ms) AS first_ms,
            max(e_ms) AS last_ms,
            arraySort(groupArrayIf((s_ms, e_ms, System, Stage), Stage != '')) AS hops,
            arrayDistinct(arrayMap(x -> x.4, hops)) AS stage_keys,
            mapFromArrays(stage_keys, arrayMap(k -> arrayFirst(x -> x.4 = k, hops).1, stage_keys)) AS sm_start,
            mapFromArrays(stage_keys, arrayMap(k -> arrayMax(arrayMap(x -> if(x.4 = k, x.2, 0), hops)), stage_keys)) AS sm_end,
            argMinIf(Channel, s_ms, Channel != '') AS channel,
            argMinIf(Region, s_ms, Region != '') AS region,
            argMinIf(System, s_ms, SystemKind = 'erp') AS erp,
            argMinIf(Warehouse, s_ms, Warehouse != '') AS warehouse,
            argMinIf(CustomerTier, s_ms, CustomerTier != '') AS tier,
            argMinIf(Priority, s_ms, Priority != '') AS priority,
            argMinIf(CustomerId, s_ms, CustomerId != '') AS customer,
            hops[-1].4 AS current_stage,
            hops[-1].3 AS current_system,
            length(hops) AS hop_count,
            countIf(StatusCode = 'Error') AS error_count,
            countIf(ManualTouch = 1) AS touch_count,
            argMinIf(Stage, s_ms, ManualTouch = 1) AS touch_stage,
            argMinIf(System, s_ms, ManualTouch = 1) AS touch_system,
            argMinIf(User, s_ms, ManualTouch = 1) AS touch_user,
            minIf(s_ms, ManualTouch = 1) AS touch_ms,
            groupUniqArrayIf(OrderStatus, OrderStatus != '') AS statuses,
            groupUniqArrayIf(ExceptionType, ExceptionType != '') AS span_exceptions,
            countIf(Stage = 'allocation') AS allocations
        FROM (
            SELECT
                OrderId, Stage, System, SystemKind, Channel, Region, Warehouse, CustomerTier, Priority, CustomerId,
                OrderStatus, ManualTouch, User, ExceptionType, StatusCode,
                toUnixTimestamp64Milli(Timestamp) AS s_ms, s_ms + intDiv(DurationNs, 1000000) AS e_ms
            FROM order_hops
            WHERE {all:UInt8} = 1 OR OrderId IN touched
        )
        GROUP BY OrderId
    ),
    e AS (
        SELECT OrderId, groupUniqArray(ExceptionType) AS event_exceptions
        FROM order_exception_events
        WHERE {all:UInt8} = 1 OR OrderId IN touched
        GROUP BY OrderId
    )
SELECT
    OrderId,
    fromUnixTimestamp64Milli(capture_ms, 'UTC') AS CaptureAt,
    fromUnixTimestamp64Milli(last_ms, 'UTC') AS LastActivityAt,
    if(mapContains(sm_end, 'ship'), fromUnixTimestamp64Milli(sm_end['ship'], 'UTC'), NULL) AS ShipAt,
    if(mapContains(sm_end, 'deliver'), fromUnixTimestamp64Milli(sm_end['deliver'], 'UTC'), NULL) AS DeliverAt,
    if(mapContains(sm_end, 'invoice'), fromUnixTimestamp64Milli(sm_end['invoice'], 'UTC'), NULL) AS InvoiceAt,
    mapApply((k, v) -> (k, fromUnixTimestamp64Milli(v, 'UTC')), sm_start) AS StageStart,
    mapApply((k, v) -> (k, fromUnixTimestamp64Milli(v, 'UTC')), sm_end) AS StageEnd,
    mapApply((k, v) -> (k, (v - sm_start[k]) / 1000.0), sm_end) AS StageDurationS,
    arrayMap(i -> hops[i].3, range(1, length(hops))) AS HandoffFrom,
    arrayMap(i -> hops[i + 1].3, range(1, length(hops))) AS HandoffTo,
    arrayMap(i -> greatest(hops[i + 1].1 - hops[i].2, 0) / 1000.0, range(1, length(hops))) AS HandoffWaitS,
    arraySum(HandoffWaitS) AS HandoffTotalS,
    current_stage AS CurrentStage,
    current_system AS CurrentSystem,
    multiIf(hasAny(statuses, {cancelled_statuses:Array(String)}), 'cancelled',
            mapContains(sm_end, {closing_stage:String}), 'closed', 'open') AS Status,
    channel AS Channel,
    region AS Region,
    erp AS ErpInstance,
    warehouse AS Warehouse,
    tier AS CustomerTier,
    priority AS Priority,
    customer AS CustomerId,
    hop_count AS HopCount,
    error_count AS ErrorCount,
    touch_count AS ManualTouchCount,
    touch_stage AS FirstTouchStage,
    touch_system AS FirstTouchSystem,
    touch_user AS FirstTouchUser,
    if(touch_count > 0, fromUnixTimestamp64Milli(touch_ms, 'UTC'), NULL) AS FirstTouchAt,
    arraySort(arrayDistinct(arrayConcat(span_exceptions, event_exceptions))) AS ExceptionTypes,
    length(ExceptionTypes) AS ExceptionCount,
    arraySort(statuses) AS OrderStatuses,
    allocations AS AllocationCount,
    toUInt8(allocations = 1 AND NOT hasAny(statuses, {alloc_failure_statuses:Array(String)})
            AND NOT hasAny(ExceptionTypes, {alloc_failure_exceptions:Array(String)})) AS AllocationAccurate,
    if(mapContains(sm_end, 'ship'), (sm_end['ship'] - capture_ms) / 1000.0, NULL) AS CycleTimeS,
    if(mapContains(sm_end, 'ship') AND mapContains(sm_end, 'invoice'),
       (sm_end['invoice'] - sm_end['ship']) / 1000.0, NULL) AS InvoiceLatencyS,
    toUInt8(touch_count = 0) AS Touchless,
    toUInt8(Status = 'closed') AS PerfectEligible,
    multiIf(hasAny(statuses, {incomplete_statuses:Array(String)}), 'incomplete',
            hasAny(statuses, {damage_statuses:Array(String)}), 'damaged',
            ExceptionCount > 0, 'exception',
            hasAny(statuses, {invoice_error_statuses:Array(String)}), 'invoice_error', '') AS PerfectMiss,
    toUInt8(PerfectMiss = '') AS PerfectOtherwise,
    arrayFilter((name, a, b) -> has(edges, a) AND has(edges, b),
                {sla_names:Array(String)}, {sla_start_edges:Array(String)}, {sla_end_edges:Array(String)}) AS SlaCompleted,
    now64(3) AS UpdatedAt,
    {version:UInt64} AS Version
FROM (
    SELECT h.*, e.event_exceptions, if(mapContains(h.sm_start, 'capture'), h.sm_start['capture'], h.first_ms) AS capture_ms,
           arrayConcat(arrayMap(k -> k || '.start', mapKeys(h.sm_start)), arrayMap(k -> k || '.end', mapKeys(h.sm_end))) AS edges
    FROM h LEFT JOIN e USING OrderId
)
SETTINGS join_use_nulls = 0, optimize_on_insert = 0
