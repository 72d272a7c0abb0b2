-- The range's hop spans with the orders each relates to (export_events.sql), for a range in which
-- every hop span names its order (event_spans_probe.sql found none that does not): each belongs
-- to its order only (attribution rules 1-2, docs/conventions.md), so event_spans_shared.sql's
-- look-up of spans shared by several orders (span_orders, a join) would find nothing.
WITH filter_orders AS (SELECT OrderId FROM (/*CASES*/))
SELECT *, [(concat('order:', OrderId), toString(Via))] AS links
FROM (/*SPAN_ROWS*/)
