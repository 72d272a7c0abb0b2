-- One round of stitching in one query: spans without an order id that carried one of the order's
-- keys (order_keys, by Key) and spans in other traces linking into the order's traces (span_links,
-- by LinkedTraceId). Both are point lookups on the tables' sort keys, from {since} on: such spans
-- come after (or shortly before) the order's first span, and the bound skips older weekly parts.
SELECT *
FROM (
    SELECT DISTINCT 'key' AS Kind, KeyType AS Detail, TraceId, SpanId, '' AS LinkedTraceId, '' AS LinkedSpanId
    FROM order_keys
    WHERE Key IN {keys:Array(String)} AND OrderId = '' AND Timestamp >= {since:DateTime64(9)}
    UNION ALL
    SELECT DISTINCT 'link' AS Kind, '' AS Detail, TraceId, SpanId, LinkedTraceId, LinkedSpanId
    FROM span_links
    WHERE LinkedTraceId IN {trace_ids:Array(String)} AND Timestamp >= {since:DateTime64(9)}
)
LIMIT {limit:UInt32}
