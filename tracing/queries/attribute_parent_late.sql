-- Rule 6, parent, late: unscoped spans naming no order that arrived before their parent, which
-- names orders (a child ends, and is exported, before its parent).
SELECT c.TraceId, c.SpanId, a.OrderId, 'parent', toUInt8(2)
FROM orderless_spans AS c
INNER JOIN (SELECT TraceId, SpanId, OrderId FROM span_arrivals ARRAY JOIN OrderIds AS OrderId
            WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}) AS a
    ON c.TraceId = a.TraceId AND c.ParentSpanId = a.SpanId
WHERE c.TraceId IN (SELECT TraceId FROM span_arrivals WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND notEmpty(OrderIds))
  AND c.Scoped = 0 AND c.ParentSpanId != ''
