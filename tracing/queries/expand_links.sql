-- The link half of expand.sql, for a round with no new keys to follow: spans in other traces linking
-- into the order's traces (a point lookup on span_links' sort key, LinkedTraceId).
SELECT DISTINCT 'link' AS Kind, '' AS Detail, TraceId, SpanId, LinkedTraceId, LinkedSpanId
FROM span_links
WHERE LinkedTraceId IN {trace_ids:Array(String)} AND Timestamp >= {since:DateTime64(9)}
LIMIT {limit:UInt32}
