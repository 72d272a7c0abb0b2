-- order_rollup_mv writes one rollup row per row of order_spans (include/order_rollup_spans.sql)
-- instead of grouping each insert by order (include/order_rollup.sql, which kpis.state.rebuild
-- still uses): the grouping was the most expensive step of ingesting a span (~22 µs of ~47 for all
-- views). The table, its merges and its readers are unchanged: an order's rows from one insert are
-- merged like rows from several inserts (the order_facts job and FINAL merge an order's unmerged
-- rows), so every fact is the same.
DROP VIEW IF EXISTS {{db}}.`order_rollup_mv` {{on_cluster}} SYNC;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_rollup_mv` {{on_cluster}}
TO {{table:order_rollup}}
AS {{include:order_rollup_spans:order_spans}};
