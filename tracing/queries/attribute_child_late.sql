-- Rule 7, child, late: an arriving span naming no order whose children, which arrived before it (a
-- child ends, and is exported, first), name orders or carry their strong keys (an EDI file whose
-- translations carry the POs of its orders).
SELECT c.TraceId, c.ParentSpanId, c.OrderId, 'child', toUInt8(3)
FROM span_orders AS c
WHERE c.TraceId IN (SELECT TraceId FROM span_arrivals WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds))
  AND (c.TraceId, c.ParentSpanId) IN (SELECT TraceId, SpanId FROM span_arrivals WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds))
  AND (c.Named = 1 OR startsWith(c.Via, 'key:') OR c.Via = 'child')
