-- The key half of expand.sql, for a round with no new traces to check for links into them: spans
-- without an order id that carried one of the order's keys (a point lookup on order_keys' sort key).
SELECT DISTINCT 'key' AS Kind, KeyType AS Detail, TraceId, SpanId, '' AS LinkedTraceId, '' AS LinkedSpanId
FROM order_keys
WHERE Key IN {keys:Array(String)} AND OrderId = '' AND Timestamp >= {since:DateTime64(9)}
LIMIT {limit:UInt32}
