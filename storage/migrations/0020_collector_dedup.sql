-- Idempotent collector writes reach the index tables too. The collector inserts each spool
-- segment with an insert_deduplication_token (otel_traces keeps a deduplication window); with
-- deduplicate_blocks_in_dependent_materialized_views the materialized views' blocks carry the
-- token as well, so these tables need a window of their own for a replayed batch to be dropped
-- there. Replicated tables (a cluster) deduplicate by default.
ALTER TABLE {{table:order_keys}} {{on_cluster}} MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE {{table:otel_traces_trace_id_ts}} {{on_cluster}} MODIFY SETTING non_replicated_deduplication_window = 10000;
