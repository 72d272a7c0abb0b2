-- The objects each order-keyed span names (customer POs, shipments, tracking numbers, invoices,
-- batches, EDI interchanges and transaction sets: include/span_objects.sql), computed once as the
-- span is written instead of by every read. The OCEL 2.0 export reads them three times per range of
-- orders (the orders' relationships, the objects themselves, the events' links); each read looked up
-- eight keys of SpanAttributes, the widest column of the table (at 1M orders, 10M spans: 1.5 GiB of
-- maps, ~12 CPU-s a read; the column is 27 MiB compressed). Parts written before this migration
-- compute the column when it is read (same results, the old cost) until the mutation below has
-- rewritten them. On the embedded engine the migration waited for it: ~3 min (39 CPU-s) on a store of
-- 1M orders, once.
ALTER TABLE {{table:order_spans}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS SpanObjects Array(Tuple(String, String, String))
    MATERIALIZED
{{include:span_objects}}
    CODEC(ZSTD(1));

{{alter_distributed:order_spans:ADD COLUMN IF NOT EXISTS SpanObjects Array(Tuple(String, String, String)) MATERIALIZED
{{include:span_objects}}
}};

ALTER TABLE {{table:order_spans}} {{on_cluster}} MATERIALIZE COLUMN SpanObjects;
