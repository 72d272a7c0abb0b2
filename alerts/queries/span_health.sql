-- Per group of spans in [since, until): span count, error count, last span start and latency
-- quantiles (seconds). Group and filter values read span attributes, then resource attributes;
-- system.instance falls back to the service name (the hop model's "system"). A span re-sent by an
-- at-least-once sender (same TraceId and SpanId) counts once.
SELECT
    arrayMap(a -> multiIf(SpanAttributes[a] != '', SpanAttributes[a], ResourceAttributes[a] != '', ResourceAttributes[a], a = 'system.instance', ServiceName, ''), {group_attrs:Array(String)}) AS grp,
    count() AS spans,
    countIf(StatusCode = 'Error') AS errors,
    max(Timestamp) AS last_seen,
    quantiles(0.5, 0.9, 0.95, 0.99)(Duration / 1e9) AS latency
FROM (
    SELECT TraceId, SpanId, SpanAttributes, ResourceAttributes, ServiceName, StatusCode, Timestamp, Duration
    FROM otel_traces
    WHERE Timestamp >= {since:DateTime64(9)}
      AND Timestamp < {until:DateTime64(9)}
    LIMIT 1 BY TraceId, SpanId
)
WHERE arrayAll((a, allowed) -> has(allowed, multiIf(SpanAttributes[a] != '', SpanAttributes[a], ResourceAttributes[a] != '', ResourceAttributes[a], a = 'system.instance', ServiceName, '')), {filter_attrs:Array(String)}, {filter_values:Array(Array(String))})
GROUP BY grp
ORDER BY grp
LIMIT 10000
