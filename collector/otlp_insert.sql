-- Spooled OTLP export requests -> otel_traces, converted by the engine (collector/engine.py).
-- The requests were validated at the door (ids, times in the window, UTF-8, attribute nesting);
-- this maps them column for column as the OTel Collector's clickhouseexporter does: ids as lower-case
-- hex, SpanKind/StatusCode as pdata names, ServiceName from the resource's service.name, attribute
-- values via otlp_values.sql, Duration = end - start, events and links as the Nested columns.
-- {{source}} is file(...) (embedded engine) or input(...) (a server); limits are bound parameters.
INSERT INTO otel_traces (
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
)
SELECT
    fromUnixTimestamp64Nano(toInt64(span.start_time_unix_nano)),
    lower(hex(span.trace_id)),
    lower(hex(span.span_id)),
    if(span.parent_span_id IN ('', unhex('0000000000000000')), '', lower(hex(span.parent_span_id))),
    span.trace_state,
    span.name,
    if(span.kind BETWEEN 0 AND 5,
       ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'][span.kind + 1], 'Unspecified'),
    resource_map['service.name'],
    resource_map,
    scope.scope.name,
    scope.scope.version,
    maps[1],
    span.end_time_unix_nano - span.start_time_unix_nano,
    if(span.status.code BETWEEN 0 AND 2, ['Unset', 'Ok', 'Error'][span.status.code + 1], 'Unset'),
    span.status.message,
    arrayMap(event -> fromUnixTimestamp64Nano(toInt64(event.time_unix_nano)), events),
    arrayMap(event -> event.name, events),
    arraySlice(maps, 2, length(events)),
    arrayMap(link -> lower(hex(link.trace_id)), links),
    arrayMap(link -> lower(hex(link.span_id)), links),
    arrayMap(link -> link.trace_state, links),
    arraySlice(maps, 2 + length(events), length(links))
-- a resource's attributes converted once per resource, not once per span of it (issue 12: 9.4 -> 7.4
-- µs of engine CPU per bench span for the conversion alone, 4 resource and 13 span attributes)
FROM (SELECT resource, {{attributes:resource.resource.attributes}} AS resource_map
      FROM {{source}} ARRAY JOIN resource_spans AS resource)
ARRAY JOIN resource.scope_spans AS scope
ARRAY JOIN scope.spans AS span
-- the attribute lists of the span, its events and its links, in one expansion
LEFT ARRAY JOIN [arraySlice(span.events, 1, {max_events:UInt32})] AS events
LEFT ARRAY JOIN [arraySlice(span.links, 1, {max_links:UInt32})] AS links
LEFT ARRAY JOIN [arrayMap(list -> {{attributes:list}},
                          arrayConcat([span.attributes],
                                      arrayMap(event -> event.attributes, events),
                                      arrayMap(link -> link.attributes, links)))] AS maps
