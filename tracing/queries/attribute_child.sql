-- Rule 7, child: an arriving span naming orders makes its parent, if that names no order, a span of
-- those orders (a request or job span around an order's hop; kept by the filter only when the
-- parent names no order and is not attributed to the order yet). Only parents already stored as
-- spans naming no order (orderless_spans, also those of this window) are candidates: the filter
-- would drop the others, and most children's parents name orders themselves (or have not arrived:
-- child_late attributes those when they do), so asking for every child's parent wrote a candidate
-- row per arriving span (~5 µs of engine CPU per span written, issue 12).
SELECT TraceId, ParentSpanId, OrderId, 'child', toUInt8(3)
FROM span_arrivals ARRAY JOIN OrderIds AS OrderId
WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND ParentSpanId != ''
  AND (TraceId, ParentSpanId) IN (
      SELECT TraceId, SpanId FROM orderless_spans
      WHERE TraceId IN (SELECT TraceId FROM span_arrivals
                        WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}
                          AND notEmpty(OrderIds) AND ParentSpanId != ''))
