-- order_facts.StageEnd, HandoffFrom and HandoffTo: ALIAS columns computed when read from two new
-- stored columns instead of written by the order_facts job. StageEndAt holds each stage's last end
-- in the order of StageStart's stages (the job builds both maps from one list of stage names), so
-- StageEnd is StageStart's stages with these values; HopSystems holds the systems of the order's
-- hops in hop order, so HandoffFrom is all but its last and HandoffTo all but its first. Writing a
-- LowCardinality string (a map key, an array element) costs a dictionary lookup: at 1M orders the
-- job converted ~12M map keys and ~18M handoff systems, half of them twice over. Full recompute of
-- a 1M store, five runs alternated with the code before (2 shared cores, load 0.7-1.4): the
-- order_facts query 5.83-6.28 CPU-s (median 6.11) -> 5.62-6.18 (median 5.80); the merge of its
-- parts the same (0.78-0.90 CPU-s). sla_results reads StageEndAt (mapping StageEnd for every order
-- its FINAL read cost 0.1-0.15 CPU-s).
-- Existing rows: the new columns are computed from the old ones (a mutation rewriting two columns
-- of every part, ~2 s for 1M order facts), then the old columns are dropped and re-added as
-- ALIAS columns (StageDurationS, which reads StageEnd, with them).
ALTER TABLE {{table:order_facts}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS StageEndAt Array(DateTime64(3)) DEFAULT mapValues(StageEnd) AFTER StageStart,
    ADD COLUMN IF NOT EXISTS HopSystems Array(LowCardinality(String))
        DEFAULT if(HopCount = 0, [], arrayPushBack(HandoffFrom, CurrentSystem)) AFTER StageEndAt;

ALTER TABLE {{table:order_facts}} {{on_cluster}}
    MATERIALIZE COLUMN StageEndAt, MATERIALIZE COLUMN HopSystems
SETTINGS mutations_sync = 2;

ALTER TABLE {{table:order_facts}} {{on_cluster}}
    MODIFY COLUMN StageEndAt REMOVE DEFAULT,
    MODIFY COLUMN HopSystems REMOVE DEFAULT;

ALTER TABLE {{table:order_facts}} {{on_cluster}}
    DROP COLUMN IF EXISTS StageDurationS,
    DROP COLUMN IF EXISTS StageEnd,
    DROP COLUMN IF EXISTS HandoffFrom,
    DROP COLUMN IF EXISTS HandoffTo;

ALTER TABLE {{table:order_facts}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS StageEnd Map(LowCardinality(String), DateTime64(3))
        ALIAS mapFromArrays(mapKeys(StageStart), StageEndAt) AFTER StageStart,
    ADD COLUMN IF NOT EXISTS StageDurationS Map(LowCardinality(String), Float64)
        ALIAS mapFromArrays(mapKeys(StageStart),
                            arrayMap((e, s) -> (toUnixTimestamp64Milli(e) - toUnixTimestamp64Milli(s)) / 1000.0,
                                     StageEndAt, mapValues(StageStart))) AFTER StageEnd,
    ADD COLUMN IF NOT EXISTS HandoffFrom Array(LowCardinality(String)) ALIAS arrayPopBack(HopSystems) AFTER HopSystems,
    ADD COLUMN IF NOT EXISTS HandoffTo Array(LowCardinality(String)) ALIAS arrayPopFront(HopSystems) AFTER HandoffFrom;

{{alter_distributed:order_facts:ADD COLUMN IF NOT EXISTS StageEndAt Array(DateTime64(3)) AFTER StageStart, ADD COLUMN IF NOT EXISTS HopSystems Array(LowCardinality(String)) AFTER StageEndAt}};

{{alter_distributed:order_facts:DROP COLUMN IF EXISTS StageDurationS, DROP COLUMN IF EXISTS StageEnd, DROP COLUMN IF EXISTS HandoffFrom, DROP COLUMN IF EXISTS HandoffTo}};

{{alter_distributed:order_facts:ADD COLUMN IF NOT EXISTS StageEnd Map(LowCardinality(String), DateTime64(3)) ALIAS mapFromArrays(mapKeys(StageStart), StageEndAt) AFTER StageStart, ADD COLUMN IF NOT EXISTS StageDurationS Map(LowCardinality(String), Float64) ALIAS mapFromArrays(mapKeys(StageStart), arrayMap((e, s) -> (toUnixTimestamp64Milli(e) - toUnixTimestamp64Milli(s)) / 1000.0, StageEndAt, mapValues(StageStart))) AFTER StageEnd, ADD COLUMN IF NOT EXISTS HandoffFrom Array(LowCardinality(String)) ALIAS arrayPopBack(HopSystems) AFTER HopSystems, ADD COLUMN IF NOT EXISTS HandoffTo Array(LowCardinality(String)) ALIAS arrayPopFront(HopSystems) AFTER HandoffFrom}};
