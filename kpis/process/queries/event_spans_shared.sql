-- The range's hop spans with the orders each relates to (export_events.sql). A span shared by
-- several of the filter's orders (a batch, a consolidated invoice, an EDI file) is kept once, from
-- the row of its first order (smallest id, whichever range holds it), and relates to each of them
-- (qualifier: how it belongs to the order, the attribution rule). Only spans that do not name their
-- order are looked up in span_orders: a span naming its order.id belongs to that order only
-- (attribution rules 1-2, docs/conventions.md).
WITH
    filter_orders AS (SELECT OrderId FROM (/*CASES*/)),
    chunk_spans AS (
        SELECT TraceId, SpanId FROM order_spans
        WHERE Stage != '' AND Via != 'order' AND OrderId IN filter_orders /*RANGE*/
    ),
    span_links AS (SELECT TraceId, SpanId, OrderId, Via FROM span_orders WHERE (TraceId, SpanId) IN chunk_spans),
    shared AS (
        SELECT TraceId, SpanId,
               arraySort(groupUniqArray((OrderId, Via))) AS pairs,
               arrayFilter((p, i) -> i = 1 OR p.1 != pairs[i - 1].1, pairs, arrayEnumerate(pairs)) AS links
        FROM span_links
        WHERE OrderId IN (SELECT OrderId FROM (/*ALL_CASES*/) WHERE OrderId IN (SELECT OrderId FROM span_links))
        GROUP BY TraceId, SpanId
        HAVING uniqExact(OrderId) > 1
    )
SELECT s.*,
       if(empty(sh.links), [(concat('order:', s.OrderId), toString(s.Via))],
          arrayMap(l -> (concat('order:', l.1), toString(l.2)), sh.links)) AS links
FROM (/*SPAN_ROWS*/) AS s
LEFT JOIN shared AS sh ON s.TraceId = sh.TraceId AND s.SpanId = sh.SpanId
WHERE empty(sh.links) OR s.OrderId = sh.links[1].1
SETTINGS join_use_nulls = 0
