-- Rule 3 (key) as spans are written: a span that names no order but carries a strong key (a carrier
-- scan with only a tracking number, a translation with only a PO) belongs to the orders whose own
-- spans carry that key (order_keys rows of spans naming them: Via '' or 'batch'). The key's owner
-- must already be stored; when it arrives later (a late key), the attribution step
-- (tracing/attribution.py, attribute_key_late.sql) attributes the span then.
--
-- Each written span's strong key values (a JSON array value gives one per element) are joined with
-- the owners of those keys (a point lookup on order_keys.Key), so the work grows with the spans and
-- their owners, not with their product: the first version (order_spans_keyed.sql, migration 0060)
-- tested every span against every owner of the insert and needed gigabytes for one 100k-span insert.
WITH
    (SELECT groupArrayIf(Name, Role = 'strong') FROM {{db}}.`tower_key_roles` FINAL) AS strong_names
SELECT
    ok.OrderId AS OrderId,
    s.Timestamp AS Timestamp, s.TraceId AS TraceId, s.SpanId AS SpanId, s.ParentSpanId AS ParentSpanId,
    s.SpanName AS SpanName, s.SpanKind AS SpanKind, s.ServiceName AS ServiceName,
    s.ResourceAttributes AS ResourceAttributes, s.SpanAttributes AS SpanAttributes, s.Duration AS Duration,
    s.StatusCode AS StatusCode, s.StatusMessage AS StatusMessage,
    s.`Events.Timestamp` AS `Events.Timestamp`, s.`Events.Name` AS `Events.Name`,
    s.`Events.Attributes` AS `Events.Attributes`,
    s.`Links.TraceId` AS `Links.TraceId`, s.`Links.SpanId` AS `Links.SpanId`,
    s.`Links.TraceState` AS `Links.TraceState`, s.`Links.Attributes` AS `Links.Attributes`,
    concat('key:', ok.KeyType) AS Via,
    toUInt8(4) AS Rank
FROM (
    SELECT
        Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
        ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage,
        `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
        `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`,
        kv.1 AS KeyName, kv.2 AS KeyValue
    FROM {{source}}
    ARRAY JOIN arrayFilter(kv -> kv.2 != '', arrayFlatten(arrayMap(
        a -> if(startsWith(a.2, '['), arrayMap(v -> (a.1, v), JSONExtract(a.2, 'Array(String)')), [(a.1, a.2)]),
        arrayFilter(a -> has(strong_names, a.1), CAST(SpanAttributes, 'Array(Tuple(String, String))'))))) AS kv
    WHERE empty({{include:order_ids}})
) AS s
INNER JOIN (
    SELECT DISTINCT ok.Key AS Key, ok.KeyType AS KeyType, ok.OrderId AS OrderId
    FROM {{db}}.`order_keys` AS ok
    WHERE ok.OrderId != '' AND ok.Via IN ('', 'batch')
      AND ok.Key IN (SELECT arrayJoin(arrayFilter(v -> v != '', arrayFlatten(arrayMap(
                      kv -> if(startsWith(kv.2, '['), JSONExtract(kv.2, 'Array(String)'), [kv.2]),
                      CAST(SpanAttributes, 'Array(Tuple(String, String))')))))
                  FROM {{source}}
                  WHERE empty({{include:order_ids}}))
) AS ok ON ok.Key = s.KeyValue AND ok.KeyType = s.KeyName
LIMIT 1 BY OrderId, TraceId, SpanId
