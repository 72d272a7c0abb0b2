-- Attribution, a few candidates at a time: for the candidate spans (bound as a parameter), whether
-- they name no order (orderless_spans, with their place in otel_traces' sort key) and the orders they
-- are attributed to already (span_orders). Point lookups; the filter itself is in Python, as
-- attribute_filter.sql does it in SQL for many candidates.
SELECT 'orderless' AS Kind, TraceId, SpanId, '' AS OrderId,
       toUnixTimestamp64Nano(any(Timestamp)) AS StartNs, any(ServiceName) AS ServiceName, any(SpanName) AS SpanName
FROM orderless_spans
WHERE (TraceId, SpanId) IN (SELECT r.1, r.2 FROM (SELECT arrayJoin({refs:Array(Tuple(String, String))}) AS r))
GROUP BY TraceId, SpanId
UNION ALL
SELECT DISTINCT 'attributed', TraceId, SpanId, OrderId, 0, '', ''
FROM span_orders
WHERE (TraceId, SpanId) IN (SELECT r.1, r.2 FROM (SELECT arrayJoin({refs:Array(Tuple(String, String))}) AS r))
