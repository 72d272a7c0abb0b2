-- Rule 6, parent: an arriving unscoped span naming no order whose parent belongs to orders.
SELECT a.TraceId, a.SpanId, p.OrderId, 'parent', toUInt8(2)
FROM (SELECT TraceId, SpanId, ParentSpanId FROM span_arrivals
      WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds) AND Scoped = 0 AND ParentSpanId != '') AS a
INNER JOIN (SELECT TraceId, SpanId, OrderId FROM span_orders
            WHERE (TraceId, SpanId) IN (SELECT TraceId, ParentSpanId FROM span_arrivals
                                        WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds) AND Scoped = 0)) AS p
    ON p.TraceId = a.TraceId AND p.SpanId = a.ParentSpanId
