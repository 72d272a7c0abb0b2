-- Attribution: write a round's pairs (/*ROUND*/: the run's rows of attribution_rounds, or the pairs
-- bound as a parameter) into the order-keyed table, each span read from otel_traces through its sort
-- key (service, span name, start), one copy per pair even if the span was re-sent.
-- (toDateTime(Timestamp) is the sort key's own expression on both sides of the IN: an exact match of
-- DateTime with DateTime and DateTime64 with DateTime64, no range bound.)
INSERT INTO order_spans (
    OrderId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`, Via, Rank
)
WITH pairs AS (/*ROUND*/)
SELECT
    r.OrderId, t.Timestamp, t.TraceId, t.SpanId, t.ParentSpanId, t.SpanName, t.SpanKind, t.ServiceName,
    t.ResourceAttributes, t.SpanAttributes, t.Duration, t.StatusCode, t.StatusMessage,
    t.`Events.Timestamp`, t.`Events.Name`, t.`Events.Attributes`,
    t.`Links.TraceId`, t.`Links.SpanId`, t.`Links.TraceState`, t.`Links.Attributes`, r.Via, r.Rank
FROM otel_traces AS t
INNER JOIN (SELECT TraceId, SpanId, OrderId, Via, Rank FROM pairs) AS r
    ON r.TraceId = t.TraceId AND r.SpanId = t.SpanId
WHERE (t.ServiceName, t.SpanName, toDateTime(t.Timestamp), t.Timestamp) IN (
    SELECT ServiceName, SpanName, toDateTime(fromUnixTimestamp64Nano(StartNs)), fromUnixTimestamp64Nano(StartNs)
    FROM pairs)
LIMIT 1 BY r.OrderId, t.TraceId, t.SpanId
