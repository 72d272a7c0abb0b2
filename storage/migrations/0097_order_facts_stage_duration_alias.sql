-- order_facts.StageDurationS: computed when read (ALIAS) from StageStart and StageEnd instead of
-- written by the order_facts job. Both maps have the same stages in the same order (the job builds
-- them from one list of stage names), so the durations are those the job wrote: (end ms - start
-- ms) / 1000 per stage. The column was the widest the job wrote (at 1M orders 93 MiB of ~620
-- uncompressed, like each stage map) and no query reads it; writing and merging it cost part of
-- a full recompute's ~3 CPU-s of writing and merging order_facts parts. `SELECT *` leaves an ALIAS
-- column out: kpis/queries/order_fact.sql names it. Dropping the column rewrites no data of the
-- other columns.
ALTER TABLE {{table:order_facts}} {{on_cluster}} DROP COLUMN IF EXISTS StageDurationS;

{{alter_distributed:order_facts:DROP COLUMN IF EXISTS StageDurationS}};

ALTER TABLE {{table:order_facts}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS StageDurationS Map(LowCardinality(String), Float64)
    ALIAS mapFromArrays(mapKeys(StageEnd),
                        arrayMap((e, s) -> (toUnixTimestamp64Milli(e) - toUnixTimestamp64Milli(s)) / 1000.0,
                                 mapValues(StageEnd), mapValues(StageStart)))
    AFTER StageEnd;

{{alter_distributed:order_facts:ADD COLUMN IF NOT EXISTS StageDurationS Map(LowCardinality(String), Float64) ALIAS mapFromArrays(mapKeys(StageEnd), arrayMap((e, s) -> (toUnixTimestamp64Milli(e) - toUnixTimestamp64Milli(s)) / 1000.0, mapValues(StageEnd), mapValues(StageStart))) AFTER StageEnd}};
