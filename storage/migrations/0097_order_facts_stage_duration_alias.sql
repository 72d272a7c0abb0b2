-- order_facts.StageDurationS: computed when read (ALIAS) from StageStart and StageEnd instead of
-- written by the order_facts job. Both maps have the same stages in the same order (the job builds
-- them from one list of stage names), so the durations are those the job wrote: (end ms - start
-- ms) / 1000 per stage. At 1M orders the column was 93 MiB of the ~560 MiB (uncompressed) that a
-- full recompute writes and then merges; only one order's facts read it (kpis/queries/order_fact.sql
-- names it: `SELECT *` leaves an ALIAS column out). With the job's insert blocks resized to keep
-- ten parts (kpis/queries/order_facts.sql), a full recompute at 1M orders took 11.2-11.6 CPU-s
-- instead of 11.5-12.4 and 5.9-6.1 s instead of 6.0-6.5 (four alternated runs each, 2 shared
-- cores, load 0.9-1.6): the order_facts query 5.4-5.6 CPU-s instead of 5.7-6.0, the merge of its
-- parts 0.8 instead of 1.0. Dropping the column rewrites no data of the other columns (1.5 s on a
-- store of 1M order facts).
ALTER TABLE {{table:order_facts}} {{on_cluster}} DROP COLUMN IF EXISTS StageDurationS;

{{alter_distributed:order_facts:DROP COLUMN IF EXISTS StageDurationS}};

ALTER TABLE {{table:order_facts}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS StageDurationS Map(LowCardinality(String), Float64)
    ALIAS mapFromArrays(mapKeys(StageEnd),
                        arrayMap((e, s) -> (toUnixTimestamp64Milli(e) - toUnixTimestamp64Milli(s)) / 1000.0,
                                 mapValues(StageEnd), mapValues(StageStart)))
    AFTER StageEnd;

{{alter_distributed:order_facts:ADD COLUMN IF NOT EXISTS StageDurationS Map(LowCardinality(String), Float64) ALIAS mapFromArrays(mapKeys(StageEnd), arrayMap((e, s) -> (toUnixTimestamp64Milli(e) - toUnixTimestamp64Milli(s)) / 1000.0, mapValues(StageEnd), mapValues(StageStart))) AFTER StageEnd}};
