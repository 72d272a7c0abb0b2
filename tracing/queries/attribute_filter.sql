-- Attribution: of a round's raw candidates, the pairs of a span that names no order (orderless_spans,
-- which also gives the span's place in otel_traces' sort key) and an order it is not attributed to
-- yet (span_orders); the strongest reason per pair. For many candidates (a few go through
-- attribute_lookup.sql and the same filter in Python).
SELECT f.TraceId, f.SpanId, f.OrderId, argMax(f.Via, f.Rank), max(f.Rank),
       toUnixTimestamp64Nano(any(o.Timestamp)), any(o.ServiceName), any(o.SpanName)
FROM (SELECT TraceId, SpanId, OrderId, Via, Rank FROM attribution_rounds
      WHERE RunId = {run:UInt64} AND Round = {raw_round:UInt8}) AS f
INNER JOIN (SELECT TraceId, SpanId, Timestamp, ServiceName, SpanName FROM orderless_spans
            WHERE TraceId IN (SELECT TraceId FROM attribution_rounds
                              WHERE RunId = {run:UInt64} AND Round = {raw_round:UInt8})) AS o
    ON o.TraceId = f.TraceId AND o.SpanId = f.SpanId
WHERE (f.TraceId, f.SpanId, f.OrderId) NOT IN (
    SELECT TraceId, SpanId, OrderId FROM span_orders
    WHERE TraceId IN (SELECT TraceId FROM attribution_rounds
                      WHERE RunId = {run:UInt64} AND Round = {raw_round:UInt8}))
GROUP BY f.TraceId, f.SpanId, f.OrderId
