-- Evaluate every SLA of the policy for the selected orders (from their order_facts): one row per
-- order and SLA whose start edge happened. Each order's SLA edges are looked up once, before the
-- order is expanded to its SLAs (the stage maps are never copied per SLA). Targets and calendars per segment come from the policy
-- compiled by kpis/policy.py (sla_parameters): seg_* pick the segment's targets with one lookup,
-- cal_* are per-day business hours as epoch milliseconds (business time between two instants is
-- the difference of their cumulative business-time values), cal_hour_first inverts that for due
-- times. Open rows carry DueAt; whether they are at risk or breached *now* is decided at read time.
-- Met results are written only when they replace a breached/open/skipped row.
INSERT INTO sla_results
SELECT * EXCEPT (bdue, hk, pd) FROM (
WITH
    -- the policy's arrays, each bound once and named: bound at each of its 49 uses, the engine
    -- parsed and analysed each copy (10k orders: 99-106 -> 93-94 ms of CPU, 6 runs alternated)
    {cal_base_day:Array(Int64)} AS cal_base_day,
    {cal_close:Array(Int64)} AS cal_close,
    {cal_cum:Array(Int64)} AS cal_cum,
    {cal_cumend:Array(Int64)} AS cal_cumend,
    {cal_cutoff:Array(Int64)} AS cal_cutoff,
    {cal_hour_first:Array(Int64)} AS cal_hour_first,
    {cal_hpos:Array(Int64)} AS cal_hpos,
    {cal_ndays:Array(Int64)} AS cal_ndays,
    {cal_nhours:Array(Int64)} AS cal_nhours,
    {cal_offset_ms:Array(Int64)} AS cal_offset_ms,
    {cal_open:Array(Int64)} AS cal_open,
    {cal_pos:Array(Int64)} AS cal_pos,
    {seg_cals:Array(Int64)} AS seg_cals,
    {seg_dims:Array(UInt8)} AS seg_dims,
    {seg_keys:Array(String)} AS seg_keys,
    {seg_targets:Array(Float64)} AS seg_targets,
    {seg_values:Array(Array(String))} AS seg_values,
    {sla_cutoff:Array(UInt8)} AS sla_cutoff,
    {sla_from_end:Array(UInt8)} AS sla_from_end,
    {sla_from_pos:Array(UInt32)} AS sla_from_pos,
    {sla_kinds:Array(String)} AS sla_kinds,
    {sla_names:Array(String)} AS sla_names,
    {sla_stage_set:Array(String)} AS sla_stage_set,
    {sla_stages:Array(String)} AS sla_stages,
    {sla_to_end:Array(UInt8)} AS sla_to_end,
    {sla_to_pos:Array(UInt32)} AS sla_to_pos,
    {sla_warn_s:Array(Float64)} AS sla_warn_s,
    -- touched and prior_open are read more than once: MATERIALIZED computes each once
    -- (kpis/jobs.py inline_ctes)
    touched AS MATERIALIZED (
        SELECT OrderId FROM order_facts
        WHERE UpdatedAt > {chain_since:DateTime64(3)} AND UpdatedAt <= {until:DateTime64(3)}
        UNION DISTINCT
        SELECT OrderId FROM order_spans
        WHERE Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)}
        UNION DISTINCT
        SELECT arrayJoin({orders:Array(String)}) AS OrderId
    ),
    -- orders with a breached/open/skipped row: each of their SLAs is evaluated (a met result
    -- is written when it replaces one of those rows)
    prior_open AS MATERIALIZED (
        SELECT DISTINCT OrderId FROM sla_results FINAL
        WHERE State != 'met' AND ({all:UInt8} = 1 OR OrderId IN touched)
    ),
    length(sla_names) AS n_sla,
    length(sla_stage_set) AS n_stage,
    3600000 AS hour_ms
SELECT
    OrderId,
    sla AS Sla,
    sla_kinds[i] AS Kind,
    sla_stages[i] AS Stage,
    State,
    fromUnixTimestamp64Milli(a_ms, 'UTC') AS StartAt,
    if(b_ms > 0, fromUnixTimestamp64Milli(b_ms, 'UTC'), NULL) AS EndAt,
    -- due time: business-time value of the start + target, back to a wall-clock instant
    -- (computed only for the rows written, after the filter below)
    ba + toInt64(target_s * 1000) AS bdue,
    cal_hpos[cal] + least(intDiv(bdue, hour_ms), cal_nhours[cal] - 1) + 1 AS hk,
    pos + if(cal_cumend[pos + cal_hour_first[hk]] >= bdue,
             cal_hour_first[hk], cal_hour_first[hk + 1]) AS pd,
    fromUnixTimestamp64Milli(toInt64(if(cal = 0, a_ms + target_s * 1000,
                                        cal_open[pd] + (bdue - cal_cum[pd]))), 'UTC') AS DueAt,
    target_s AS TargetS,
    if(b_ms > 0, elapsed_s, NULL) AS ElapsedS,
    sla_warn_s[i] AS WarnS,
    toUInt8(cal > 0) AS Business,
    CaptureAt,
    Status AS OrderStatus,
    CurrentStage,
    CurrentSystem,
    Channel,
    Region,
    ErpInstance,
    Warehouse,
    CustomerTier,
    Priority,
    now64(3) AS UpdatedAt,
    {version:UInt64} AS Version
FROM (
    SELECT
        *,
        -- business-time value of the start (with the warehouse cut-off) and of the end
        cal_pos[cal] AS pos,
        pos + least(greatest(intDiv(a_ms + cal_offset_ms[cal], 86400000) - cal_base_day[cal] + 1, 1), cal_ndays[cal]) AS pa,
        pos + least(greatest(intDiv(b_ms + cal_offset_ms[cal], 86400000) - cal_base_day[cal] + 1, 1), cal_ndays[cal]) AS pb,
        cal_close[pa] - cal_open[pa] AS len_a,
        if(sla_cutoff[i] = 1 AND cal_cutoff[pa] > 0 AND a_ms > cal_cutoff[pa],
           cal_cum[pa] + len_a,
           cal_cum[pa] + least(greatest(a_ms - cal_open[pa], 0), len_a)) AS ba,
        cal_cum[pb] + least(greatest(b_ms - cal_open[pb], 0),
                                           cal_close[pb] - cal_open[pb]) AS bb,
        greatest(if(cal = 0, b_ms - a_ms, bb - ba), 0) / 1000.0 AS elapsed_s,
        multiIf(b_ms > 0, if(elapsed_s <= target_s, 'met', 'breached'), Status = 'open', 'open', 'skipped') AS State
    FROM (
        SELECT
            OrderId, CaptureAt, Status, CurrentStage, CurrentSystem,
            Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority,
            e.1 AS i,
            e.2 AS a_ms,
            e.3 AS b_ms,
            sla_names[i] AS sla,
            (seg - 1) * n_sla + i AS seg_cell,
            seg_targets[seg_cell] AS target_s,
            seg_cals[seg_cell] AS cal
        FROM (
            -- once per order, before any expansion: the segment's row in the target tables and
            -- every SLA's start and end edge (0: the edge did not happen)
            SELECT
                * EXCEPT (stage_ms),
                -- the SLAs whose start edge happened, with their edges in epoch milliseconds
                -- (index 0, a stage without a hop, reads 0), less those surely met: completed
                -- within the target in wall time (business time between two instants is never
                -- more than wall time), unless the order had a row that a met one must replace
                arrayFilter(t -> t.2 > 0 AND (t.3 = 0 OR prior
                                              OR greatest(t.3 - t.2, 0) / 1000.0 > seg_targets[(seg - 1) * n_sla + t.1]),
                            arrayZip(
                    range(1, n_sla + 1),
                    -- each edge one element of the order's stage_ms (its position: the stage's
                    -- in {sla_stage_set}, plus the set's length for an end edge)
                    arrayMap(k -> stage_ms[k], arrayMap((p, e) -> p + e * n_stage, sla_from_pos, sla_from_end)),
                    arrayMap(k -> stage_ms[k], arrayMap((p, e) -> p + e * n_stage, sla_to_pos, sla_to_end)))) AS edges
            FROM (
                SELECT
                    * EXCEPT (start_keys, start_ms, end_ms),
                    -- every stage of {sla_stage_set}: its first start, then (after the set's length)
                    -- its last end, in epoch milliseconds (0: the order has no hop of it), built
                    -- once per order so that each edge is one element read: looking each SLA's two
                    -- edges up by indexOf in the order's stage arrays (a lambda per SLA capturing
                    -- four arrays) cost 5 of 11 CPU-s at 1M orders
                    arrayConcat(arrayMap(n -> start_ms[indexOf(start_keys, n)], sla_stage_set),
                                arrayMap(n -> end_ms[indexOf(start_keys, n)], sla_stage_set)) AS stage_ms
                FROM (
                    SELECT
                        OrderId, CaptureAt, Status, CurrentStage, CurrentSystem,
                        Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority,
                        OrderId IN prior_open AS prior,
                        indexOf(seg_keys, arrayStringConcat(arrayFilter((v, d) -> d = 1, [
                            if(has(seg_values[1], Channel), Channel, ''),
                            if(has(seg_values[2], Priority), Priority, ''),
                            if(has(seg_values[3], CustomerTier), CustomerTier, ''),
                            if(has(seg_values[4], Warehouse), Warehouse, ''),
                            if(has(seg_values[5], Region), Region, '')], seg_dims), '|')) AS seg,
                        -- the order's stages (map keys, distinct) and their first start / last end
                        -- in epoch milliseconds (StageEndAt: the last ends in StageStart's order of
                        -- stages, what the ALIAS column StageEnd maps them from)
                        mapKeys(StageStart) AS start_keys,
                        arrayMap(v -> toUnixTimestamp64Milli(v), mapValues(StageStart)) AS start_ms,
                        arrayMap(v -> toUnixTimestamp64Milli(v), StageEndAt) AS end_ms
                    FROM order_facts FINAL
                    WHERE ({all:UInt8} = 1 OR OrderId IN touched)
                      -- an order whose facts found every SLA surely met under this policy's edges
                      -- and smallest targets has no row to write, unless it had a row to replace
                      AND (SlaSettledBy != {sla_digest:UInt64} OR OrderId IN prior_open)
                )
            )
        )
        ARRAY JOIN edges AS e
    )
)
WHERE State != 'met'
   OR (OrderId, Sla) IN (
        SELECT OrderId, Sla FROM sla_results FINAL
        WHERE State != 'met' AND ({all:UInt8} = 1 OR OrderId IN touched))
)
-- no plan optimizations: they cost 10-15 ms of planning per run and changed nothing here (same rows
-- read; 10k orders of a 1M store: 103 -> 90 ms of CPU, 8 runs alternated; a full recompute the same)
SETTINGS optimize_on_insert = 0, max_insert_threads = 2, query_plan_enable_optimizations = 0
