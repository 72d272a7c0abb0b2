-- Rule 7, child: an arriving span naming orders makes its parent, if that names no order, a span of
-- those orders (a request or job span around an order's hop; kept by the filter only when the
-- parent names no order).
SELECT TraceId, ParentSpanId, OrderId, 'child', toUInt8(3)
FROM span_arrivals ARRAY JOIN OrderIds AS OrderId
WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND ParentSpanId != ''
