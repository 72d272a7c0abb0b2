-- Benchmark-scale data from a simulated base history: copies {first}..{first}+{count}-1 of every
-- span the simulator wrote (ScopeName {scope}), each copy with its own trace and span ids (MD5 of
-- the id and the copy number, links remapped alike) and every business key suffixed '-c<copy>'
-- (list-valued keys element by element), so each copy is a distinct set of orders with the same
-- shape, times, gaps and exceptions. Copies are marked with ScopeName {copy_scope} and are never
-- copied again. The materialized views fill the key index and trace-time table as for any insert.
INSERT INTO otel_traces (
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
)
SELECT
    Timestamp,
    lower(hex(MD5(concat(TraceId, '/', toString(copy))))),
    substring(lower(hex(MD5(concat(SpanId, '/', toString(copy))))), 1, 16),
    if(ParentSpanId = '', '', substring(lower(hex(MD5(concat(ParentSpanId, '/', toString(copy))))), 1, 16)),
    TraceState,
    SpanName,
    SpanKind,
    ServiceName,
    ResourceAttributes,
    {copy_scope:String},
    ScopeVersion,
    mapApply(
        (k, v) -> (
            k,
            if(
                has({keys:Array(String)}, k),
                if(
                    startsWith(v, '['),
                    toJSONString(arrayMap(x -> concat(x, '-c', toString(copy)), JSONExtract(v, 'Array(String)'))),
                    concat(v, '-c', toString(copy))
                ),
                v
            )
        ),
        SpanAttributes
    ),
    Duration,
    StatusCode,
    StatusMessage,
    `Events.Timestamp`,
    `Events.Name`,
    `Events.Attributes`,
    arrayMap(t -> lower(hex(MD5(concat(t, '/', toString(copy))))), `Links.TraceId`),
    arrayMap(s -> substring(lower(hex(MD5(concat(s, '/', toString(copy))))), 1, 16), `Links.SpanId`),
    `Links.TraceState`,
    `Links.Attributes`
FROM otel_traces
CROSS JOIN (SELECT toUInt32(number) AS copy FROM numbers({first:UInt32}, {count:UInt32})) AS copies
WHERE otel_traces.ScopeName = {scope:String}  -- no output aliases above: they would shadow columns here
