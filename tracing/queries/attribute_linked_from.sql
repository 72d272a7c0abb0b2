-- Rule 5, linked_from: an arriving span naming no order links to spans naming orders (a
-- consolidated invoice linking to each order's ERP span).
SELECT a.TraceId, a.SpanId, t.OrderId, 'linked_from', toUInt8(3)
FROM (SELECT TraceId, SpanId, lt AS LinkTraceId, ls AS LinkSpanId
      FROM span_arrivals ARRAY JOIN LinkTraceIds AS lt, LinkSpanIds AS ls
      WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds)) AS a
INNER JOIN (SELECT TraceId, SpanId, OrderId FROM span_orders
            WHERE Named = 1 AND (TraceId, SpanId) IN (
                SELECT lt, ls FROM span_arrivals ARRAY JOIN LinkTraceIds AS lt, LinkSpanIds AS ls
                WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds))) AS t
    ON t.TraceId = a.LinkTraceId AND t.SpanId = a.LinkSpanId
