-- Rule 4, link: spans naming orders link to an arriving span naming no order (a middleware batch
-- to its EDI file, an order's first span to its translation).
SELECT l.LinkedTraceId, l.LinkedSpanId, s.OrderId, 'link', toUInt8(3)
FROM span_links AS l
INNER JOIN (SELECT TraceId, SpanId, OrderId FROM span_orders
            WHERE Named = 1 AND TraceId IN (
                SELECT TraceId FROM span_links
                WHERE (LinkedTraceId, LinkedSpanId) IN (SELECT TraceId, SpanId FROM span_arrivals
                                                       WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds)))) AS s
    ON s.TraceId = l.TraceId AND s.SpanId = l.SpanId
WHERE (l.LinkedTraceId, l.LinkedSpanId) IN (SELECT TraceId, SpanId FROM span_arrivals
                                           WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds))
