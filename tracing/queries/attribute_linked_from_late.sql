-- Rule 5, linked_from, late: spans naming no order that linked to an arriving span naming orders
-- before it arrived (kept by the filter only when the linking span names no order).
SELECT l.TraceId, l.SpanId, a.OrderId, 'linked_from', toUInt8(3)
FROM span_links AS l
INNER JOIN (SELECT TraceId, SpanId, OrderId FROM span_arrivals ARRAY JOIN OrderIds AS OrderId
            WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}) AS a
    ON l.LinkedTraceId = a.TraceId AND l.LinkedSpanId = a.SpanId
WHERE l.LinkedTraceId IN (SELECT TraceId FROM span_arrivals WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND notEmpty(OrderIds))
