-- Per system over the last {window_s} seconds before {now}: hops, orders, errors, latency p95, and
-- staleness (time since its last span). Systems seen in the last {lookback_s} seconds but quiet in
-- the window are listed with zero throughput. Hops and errors count a span shared by many orders
-- once; every reader counts a re-sent span once (FINAL).
WITH {now:DateTime64(3)} - toIntervalSecond({window_s:UInt32}) AS window_start
SELECT
    System AS system,
    SystemKind AS system_kind,
    uniqExactIf(SpanId, Timestamp >= window_start) AS hops,
    uniqExactIf(OrderId, Timestamp >= window_start) AS orders,
    uniqExactIf(SpanId, Timestamp >= window_start AND StatusCode = 'Error') AS errors,
    quantileExactInclusiveIf(0.95)(Duration / 1e9, Timestamp >= window_start) AS latency_p95_s,
    max(Timestamp) AS last_span_at,
    max(ArrivedAt) AS last_arrival_at
FROM order_spans FINAL
WHERE Timestamp >= {now:DateTime64(3)} - toIntervalSecond({lookback_s:UInt32})
  AND Timestamp <= {now:DateTime64(3)}
  AND System != ''
GROUP BY System, SystemKind
ORDER BY System
