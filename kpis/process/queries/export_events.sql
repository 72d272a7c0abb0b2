-- OCEL 2.0 events of the filter's orders in one range of order ids (the RANGE placeholder; the
-- export reads range after range: bounded memory): one per hop span (each span once, FINAL),
-- whatever the number of its orders. A span shared by several of the filter's orders (a batch, a
-- consolidated invoice, an EDI file) is written once, from the row of its first order (smallest id,
-- whichever range holds it), and relates to each of them (qualifier: how it belongs to the order,
-- the attribution rule); every object it names relates too (qualifier: the attribute). Only spans
-- that do not name their order are looked up in span_orders: a span naming its order.id belongs to
-- that order only (attribution rules 1-2, docs/conventions.md). Empty attribute values are left
-- out. Rows are in no global order (bounded memory).
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
SELECT
    concat(s.TraceId, ':', s.SpanId) AS id,
    concat(s.Stage, ' @ ', s.System) AS type,
    s.Timestamp AS at,
    replaceOne(toString(toDateTime64(s.Timestamp, 6, 'UTC')), ' ', 'T') || 'Z' AS time,
    arrayFilter(a -> a.2 != '', [
        ('stage', toString(s.Stage)),
        ('system', toString(s.System)),
        ('system_kind', toString(s.SystemKind)),
        ('span_name', toString(s.SpanName)),
        ('status', toString(s.OrderStatus)),
        ('status_code', toString(s.StatusCode)),
        ('manual_touch', if(s.ManualTouch = 1, 'true', 'false')),
        ('user', s.User),
        ('exception_type', toString(s.ExceptionType)),
        ('exception_outcome', toString(s.ExceptionOutcome)),
        ('duration_s', toString(round(s.Duration / 1e9, 6)))
    ]) AS attributes,
    arrayConcat(
        if(empty(sh.links), [(concat('order:', s.OrderId), toString(s.Via))],
           arrayMap(l -> (concat('order:', l.1), toString(l.2)), sh.links)),
        arrayMap(o -> (o.1, o.2), s.objs)
    ) AS relationships
FROM (
    SELECT OrderId, TraceId, SpanId, Timestamp, Duration, SpanName, StatusCode, Via, Stage, System,
           SystemKind, OrderStatus, ManualTouch, User, ExceptionType, ExceptionOutcome,
           /*SPAN_OBJECTS*/ AS objs
    FROM order_spans FINAL
    WHERE Stage != '' AND OrderId IN filter_orders /*RANGE*/
) AS s
LEFT JOIN shared AS sh ON s.TraceId = sh.TraceId AND s.SpanId = sh.SpanId
WHERE empty(sh.links) OR s.OrderId = sh.links[1].1
SETTINGS join_use_nulls = 0
