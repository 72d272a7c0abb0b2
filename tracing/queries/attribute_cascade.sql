-- Attribution, a later round: the spans attributed in the previous round (/*ROUND*/: the run's rows
-- of attribution_rounds, or the pairs bound as a parameter) pass their orders on — down to their
-- unscoped children naming no order (rule 6: the 997 under an EDI file span, calls under a carrier
-- scan) and, when attributed by key or by a child, up to their parent (rule 7: the file span holding
-- the POs of its translations).
WITH previous AS (/*ROUND*/)
SELECT c.TraceId, c.SpanId, p.OrderId, 'parent', toUInt8(2)
FROM previous AS p
INNER JOIN (SELECT TraceId, SpanId, ParentSpanId FROM orderless_spans
            WHERE TraceId IN (SELECT TraceId FROM previous) AND Scoped = 0 AND ParentSpanId != '') AS c
    ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
UNION ALL
SELECT r.TraceId, o.ParentSpanId, r.OrderId, 'child', toUInt8(3)
FROM (SELECT TraceId, SpanId, OrderId FROM previous WHERE startsWith(Via, 'key:') OR Via = 'child') AS r
INNER JOIN (SELECT TraceId, SpanId, ParentSpanId FROM orderless_spans
            WHERE TraceId IN (SELECT TraceId FROM previous) AND ParentSpanId != '') AS o
    ON o.TraceId = r.TraceId AND o.SpanId = r.SpanId
