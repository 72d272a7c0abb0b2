-- Rule 6, parent, late: unscoped spans naming no order that arrived before their parent, which
-- names orders (a child ends, and is exported, before its parent). The candidates (orderless_spans
-- of the arriving traces: few, often none) are the join's right side, the one it builds a hash
-- table of; the arrivals are streamed past it (issue 12: with the arrivals on the right every run
-- hashed its whole window, ~1 µs per span written, to find nothing).
SELECT c.TraceId, c.SpanId, a.OrderId, 'parent', toUInt8(2)
FROM (SELECT TraceId, SpanId, OrderId FROM span_arrivals ARRAY JOIN OrderIds AS OrderId
      WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}) AS a
INNER JOIN (SELECT TraceId, SpanId, ParentSpanId FROM orderless_spans
            WHERE TraceId IN (SELECT TraceId FROM span_arrivals
                              WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND notEmpty(OrderIds))
              AND Scoped = 0 AND ParentSpanId != '') AS c
    ON c.TraceId = a.TraceId AND c.ParentSpanId = a.SpanId
