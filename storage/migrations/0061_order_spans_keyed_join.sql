-- The key rule's view (rule 3, order_spans_keyed_mv) joins each written span's strong keys with their
-- owners instead of testing every span against every owner of the insert (quadratic: one 100k-span
-- insert needed gigabytes). Same rows; see include/order_spans_keyed_join.sql.
DROP VIEW IF EXISTS {{db}}.`order_spans_keyed_mv` {{on_cluster}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_spans_keyed_mv` {{on_cluster}}
TO {{table:order_spans}}
AS {{include:order_spans_keyed_join:otel_traces}};
