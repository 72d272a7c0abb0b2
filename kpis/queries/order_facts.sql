-- Recompute order_facts for the orders selected by the run: every order when {all} = 1, else the
-- orders with spans that *arrived* in (since, until] (late spans and late attributions included), or
-- with a span *starting* in [from, to). Input: order_rollup, the per-order rollup that a
-- materialized view keeps as rows reach the order-keyed table order_spans (attributed by the rules
-- of tracing/attribution.py, with the hop projection its columns define): one row per order once
-- merged (FINAL merges an order's rows from several inserts), never its spans; every rollup column
-- counts a span once (a re-sent span changes nothing). Hop model (same as tracing/timeline.py): a hop is a span with
-- order.stage; hop end = start + duration; a handoff gap is the time from one hop's end to the next
-- hop's start (hops sorted by start), counted when positive.
INSERT INTO order_facts
WITH
    -- touched and multi are read more than once (sets built from them for the filters and for the
    -- primary key): MATERIALIZED computes each once (kpis/jobs.py inline_ctes explains)
    touched AS MATERIALIZED (
        SELECT OrderId FROM order_spans
        -- ({from} < {to}: without a range the OR folds away, and the index on ArrivedAt skips old
        -- granules: 3x less CPU than scanning both columns of every row)
        WHERE (ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)})
           OR ({from:DateTime64(3)} < {to:DateTime64(3)} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)})
        UNION DISTINCT
        SELECT arrayJoin({orders:Array(String)}) AS OrderId
    ),
    -- orders whose rollup is still in several rows (inserts not merged yet): merged below by
    -- GROUP BY. Every other order's row is read as it is: FINAL would push every row, merged or
    -- not, through the columns' aggregate functions (8 of 10 CPU-s of reading 1M rollups).
    -- The two reads of order_rollup are not one snapshot: an insert committing between them can
    -- leave an order it touches with a partial fact until the next run, which recomputes it (its
    -- rows arrived after this run's upper bound).
    multi AS MATERIALIZED (
        SELECT OrderId FROM order_rollup
        WHERE {all:UInt8} = 1 OR OrderId IN touched
        GROUP BY OrderId
        HAVING count() > 1
    ),
    r AS (
        SELECT
            OrderId, FirstMs, LastMs, Hops, ChannelFirst, RegionFirst, ErpFirst, WarehouseFirst, TierFirst,
            PriorityFirst, CustomerFirst, Errors, Touches, FirstTouch, Statuses, Exceptions, Allocations
        FROM order_rollup
        WHERE ({all:UInt8} = 1 OR OrderId IN touched) AND OrderId NOT IN multi
        UNION ALL
        -- the merge FINAL would do (include/order_rollup.sql: min, max, distinct-set unions)
        SELECT
            OrderId, min(FirstMs), max(LastMs), groupUniqArrayArray(Hops), min(ChannelFirst), min(RegionFirst),
            min(ErpFirst), min(WarehouseFirst), min(TierFirst), min(PriorityFirst), min(CustomerFirst),
            groupUniqArrayArray(Errors), groupUniqArrayArray(Touches), min(FirstTouch),
            groupUniqArrayArray(Statuses), groupUniqArrayArray(Exceptions), groupUniqArrayArray(Allocations)
        FROM order_rollup
        WHERE OrderId IN multi
        GROUP BY OrderId
    ),
    h AS (
        -- the touched orders' rollups (kpis/state.py; storage/migrations/include/order_rollup.sql):
        -- plain columns, merged by FINAL only for orders whose rows are in several parts
        SELECT
            OrderId,
            FirstMs AS first_ms,
            LastMs AS last_ms,
            -- hops sorted by (start, end, system, stage); each distinct span once
            arraySort(Hops) AS hops,
            -- per stage, in the order of their first hops: the first hop start and the last hop end.
            -- The hops are sorted by start already, so a stage's first hop in them has its first
            -- start; its ends are sorted within each stage as numbers (the stage's rank, -end).
            -- Sorting (stage, start, end) tuples by stage name first instead (string comparisons,
            -- and the strings moved) cost ~0.6-1.0 CPU-s more at 1M orders
            arrayEnumerateDense(tupleElement(hops, 4)) AS stage_rank,
            arrayEnumerateUniq(stage_rank) AS first_of_stage,
            arrayFilter((x, k) -> k = 1, tupleElement(hops, 4), first_of_stage) AS stage_names,
            arrayFilter((x, k) -> k = 1, tupleElement(hops, 1), first_of_stage) AS stage_starts,
            arraySort(arrayZip(stage_rank, arrayMap(v -> -v, tupleElement(hops, 2)))) AS by_end,
            arrayMap(v -> -v, arrayFilter((x, k) -> k = 1, by_end.2, arrayEnumerateUniq(by_end.1))) AS stage_ends,
            mapFromArrays(stage_names, stage_starts) AS sm_start,
            mapFromArrays(stage_names, stage_ends) AS sm_end,
            -- each of the order's stages: its position in {sla_stage_set} (0: no SLA names it), by
            -- transform's hash lookup: indexOf(set, n) compared n with the set's names one by one
            -- (~0.45 CPU-s more at 1M orders, ~8 stages each)
            arrayMap(n -> transform(n, {sla_stage_set:Array(String)},
                                    range(1, length({sla_stage_set:Array(String)}) + 1), 0), stage_names) AS stage_pos,
            -- bit k: the order has a hop of stage k of {sla_stage_set} (stage names are distinct,
            -- so the sum is an OR; a stage outside the set adds nothing)
            arraySum(arrayMap(k -> bitShiftLeft(toUInt64(k > 0), k), stage_pos)) AS stage_bits,
            -- every stage of {sla_stage_set}: its first start, then (after the set's length) its
            -- last end, in epoch milliseconds (0: the order has no hop of it), as sla_results.sql
            -- builds them
            arrayMap(k -> indexOf(stage_pos, k), range(1, length({sla_stage_set:Array(String)}) + 1)) AS set_index,
            arrayConcat(arrayMap(j -> stage_starts[j], set_index), arrayMap(j -> stage_ends[j], set_index)) AS edge_ms,
            -- an SLA sla_results.sql must evaluate: its start edge happened and its end edge did
            -- not, or took longer (in wall time) than its smallest target in any segment; otherwise
            -- every SLA of the order is surely met (business time between two instants is never
            -- more than wall time), and sla_results skips the order (its SlaSettledBy below)
            arrayExists((f, t, m) -> edge_ms[f] > 0 AND (edge_ms[t] = 0 OR greatest(edge_ms[t] - edge_ms[f], 0) / 1000.0 > m),
                        {sla_from_edge:Array(UInt32)}, {sla_to_edge:Array(UInt32)},
                        {sla_min_target_s:Array(Float64)}) AS sla_review,
            ChannelFirst.2 AS channel,
            RegionFirst.2 AS region,
            ErpFirst.2 AS erp,
            WarehouseFirst.2 AS warehouse,
            TierFirst.2 AS tier,
            PriorityFirst.2 AS priority,
            CustomerFirst.2 AS customer,
            hops[-1].4 AS current_stage,
            hops[-1].3 AS current_system,
            length(hops) AS hop_count,
            length(Errors) AS error_count,
            length(Touches) AS touch_count,
            FirstTouch AS first_touch,
            first_touch.2 AS touch_stage,
            first_touch.3 AS touch_system,
            first_touch.4 AS touch_user,
            if(touch_count > 0, first_touch.1, 0) AS touch_ms,
            Statuses AS statuses,
            Exceptions AS exceptions,
            length(Allocations) AS allocations
        FROM r
    )
SELECT
    OrderId,
    fromUnixTimestamp64Milli(capture_ms, 'UTC') AS CaptureAt,
    fromUnixTimestamp64Milli(last_ms, 'UTC') AS LastActivityAt,
    if(mapContains(sm_end, 'ship'), fromUnixTimestamp64Milli(sm_end['ship'], 'UTC'), NULL) AS ShipAt,
    if(mapContains(sm_end, 'deliver'), fromUnixTimestamp64Milli(sm_end['deliver'], 'UTC'), NULL) AS DeliverAt,
    if(mapContains(sm_end, 'invoice'), fromUnixTimestamp64Milli(sm_end['invoice'], 'UTC'), NULL) AS InvoiceAt,
    mapFromArrays(stage_names, arrayMap(v -> fromUnixTimestamp64Milli(v, 'UTC'), stage_starts)) AS StageStart,
    -- each stage's last end, in StageStart's order of stages: StageEnd is an ALIAS column of
    -- StageStart's stages and these (storage/migrations/0099), as StageDurationS is (0097)
    arrayMap(v -> fromUnixTimestamp64Milli(v, 'UTC'), stage_ends) AS StageEndAt,
    -- the hops' systems in hop order: HandoffFrom and HandoffTo are ALIAS columns of it (0099)
    tupleElement(hops, 3) AS HopSystems,
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
    arraySort(exceptions) AS ExceptionTypes,
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
    -- an edge <stage>.start or <stage>.end exists when the stage has a hop: an SLA is completed
    -- when the order's stages (as bits of {sla_stage_set}) hold both of its stages' bits
    -- ({sla_stage_masks}); a lambda capturing the order's stage map copied it once per SLA
    arrayFilter((name, need) -> bitAnd(stage_bits, need) = need,
                {sla_names:Array(String)}, {sla_stage_masks:Array(UInt64)}) AS SlaCompleted,
    -- the digest of the SLA edges and smallest targets (kpis/jobs.py sla_review) under which every
    -- SLA of the order is surely met; 0 when sla_results must evaluate the order
    if(sla_review, toUInt64(0), {sla_digest:UInt64}) AS SlaSettledBy,
    now64(3) AS UpdatedAt,
    {version:UInt64} AS Version
FROM (
    SELECT h.*, if(mapContains(h.sm_start, 'capture'), h.sm_start['capture'], h.first_ms) AS capture_ms
    FROM h
)
-- An incremental run's few orders go into one part (squashed up to 52 MiB). A full recompute reads
-- the rollups in bigger blocks and writes each block as a part as it comes, without squashing
-- (kpis/jobs.py FULL_SETTINGS replaces min_insert_block_size_bytes): squashing a full recompute's
-- rows into blocks of a million held them all (1.2 GiB at 1M orders), and squashed blocks of 52 MiB
-- mixed the two reading threads' rows, so each had to be sorted again.
SETTINGS join_use_nulls = 0, optimize_on_insert = 0, max_insert_threads = 2,
         min_insert_block_size_rows = 0, min_insert_block_size_bytes = 54525952
