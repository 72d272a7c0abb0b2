-- Spans in other traces that link into these traces (the reverse direction of span links).
SELECT DISTINCT LinkedTraceId, LinkedSpanId, TraceId, SpanId
FROM span_links
WHERE LinkedTraceId IN {trace_ids:Array(String)}
LIMIT {limit:UInt32}
