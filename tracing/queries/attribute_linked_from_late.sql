-- Rule 5, linked_from, late: spans naming no order that linked to an arriving span naming orders
-- before it arrived (kept by the filter only when the linking span names no order). The stored
-- links into the arriving traces (few, often none) are the join's right side, the one it hashes;
-- the arrivals are streamed past it (as attribute_parent_late.sql).
SELECT l.TraceId, l.SpanId, a.OrderId, 'linked_from', toUInt8(3)
FROM (SELECT TraceId, SpanId, OrderId FROM span_arrivals ARRAY JOIN OrderIds AS OrderId
      WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}) AS a
INNER JOIN (SELECT TraceId, SpanId, LinkedTraceId, LinkedSpanId FROM span_links
            WHERE LinkedTraceId IN (SELECT TraceId FROM span_arrivals
                                    WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND notEmpty(OrderIds))) AS l
    ON l.LinkedTraceId = a.TraceId AND l.LinkedSpanId = a.SpanId
