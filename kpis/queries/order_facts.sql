-- Recompute order_facts for the orders selected by the run: every order when {all} = 1, else the
-- orders with spans that *arrived* in (since, until] (late spans and late attributions included), or
-- with a span *starting* in [from, to). Input: the order-keyed table order_spans, each span once
-- (FINAL: a re-sent span counts once), attributed by the rules of tracing/attribution.py, with the
-- hop projection its columns define. Hop model (same as tracing/timeline.py): a hop is a span with
-- order.stage; hop end = start + duration; a handoff gap is the time from one hop's end to the next
-- hop's start (hops sorted by start), counted when positive.
INSERT INTO order_facts
WITH
    touched AS (
        SELECT OrderId FROM order_spans
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
            -- hops sorted by (start, end); per stage: first start, last end (no lambdas over
            -- captured arrays: they are slow in ClickHouse)
            arraySort(groupArrayIf((s_ms, e_ms, System, Stage), Stage != '')) AS hops,
            tupleElement(hops, 4) AS hop_stages,
            arrayEnumerateUniq(hop_stages) AS nth_by_start,
            arrayReverseSort(arrayZip(tupleElement(hops, 2), hop_stages)) AS by_end,
            arrayEnumerateUniq(tupleElement(by_end, 2)) AS nth_by_end,
            arrayFilter((k, n) -> n = 1, hop_stages, nth_by_start) AS keys_by_start,
            arrayFilter((k, n) -> n = 1, tupleElement(by_end, 2), nth_by_end) AS keys_by_end,
            arraySort(keys_by_start) AS stage_names,
            arraySort((v, k) -> k, arrayFilter((v, n) -> n = 1, tupleElement(hops, 1), nth_by_start), keys_by_start) AS stage_starts,
            arraySort((v, k) -> k, arrayFilter((v, n) -> n = 1, tupleElement(by_end, 1), nth_by_end), keys_by_end) AS stage_ends,
            mapFromArrays(stage_names, stage_starts) AS sm_start,
            mapFromArrays(stage_names, stage_ends) AS sm_end,
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
            -- exceptions reported as span events (order.exception.type on the event)
            arrayDistinct(arrayFlatten(groupArray(event_types))) AS event_exceptions,
            countIf(Stage = 'allocation') AS allocations
        FROM (
            SELECT
                OrderId, Stage, System, SystemKind, Channel, Region, Warehouse, CustomerTier, Priority, CustomerId,
                OrderStatus, ManualTouch, User, ExceptionType, StatusCode,
                arrayFilter(t -> t != '', arrayMap(a -> a['order.exception.type'], `Events.Attributes`)) AS event_types,
                toUnixTimestamp64Milli(Timestamp) AS s_ms, s_ms + intDiv(Duration, 1000000) AS e_ms
            FROM order_spans FINAL
            WHERE {all:UInt8} = 1 OR OrderId IN touched
        )
        GROUP BY OrderId
    )
SELECT
    OrderId,
    fromUnixTimestamp64Milli(capture_ms, 'UTC') AS CaptureAt,
    fromUnixTimestamp64Milli(last_ms, 'UTC') AS LastActivityAt,
    if(mapContains(sm_end, 'ship'), fromUnixTimestamp64Milli(sm_end['ship'], 'UTC'), NULL) AS ShipAt,
    if(mapContains(sm_end, 'deliver'), fromUnixTimestamp64Milli(sm_end['deliver'], 'UTC'), NULL) AS DeliverAt,
    if(mapContains(sm_end, 'invoice'), fromUnixTimestamp64Milli(sm_end['invoice'], 'UTC'), NULL) AS InvoiceAt,
    mapFromArrays(stage_names, arrayMap(v -> fromUnixTimestamp64Milli(v, 'UTC'), stage_starts)) AS StageStart,
    mapFromArrays(stage_names, arrayMap(v -> fromUnixTimestamp64Milli(v, 'UTC'), stage_ends)) AS StageEnd,
    mapFromArrays(stage_names, arrayMap((e, b) -> (e - b) / 1000.0, stage_ends, stage_starts)) AS StageDurationS,
    arrayPopBack(tupleElement(hops, 3)) AS HandoffFrom,
    arrayPopFront(tupleElement(hops, 3)) AS HandoffTo,
    arrayMap((a, b) -> greatest(a - b, 0) / 1000.0,
             arrayPopFront(tupleElement(hops, 1)), arrayPopBack(tupleElement(hops, 2))) AS HandoffWaitS,
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
    SELECT h.*, if(mapContains(h.sm_start, 'capture'), h.sm_start['capture'], h.first_ms) AS capture_ms,
           arrayConcat(arrayMap(k -> k || '.start', h.stage_names), arrayMap(k -> k || '.end', h.stage_names)) AS edges
    FROM h
)
SETTINGS join_use_nulls = 0, optimize_on_insert = 0, max_insert_threads = 2
