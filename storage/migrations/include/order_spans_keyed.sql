-- Rule 3 (key) as spans are written: a span that names no order but carries a strong key (a carrier
-- scan with only a tracking number, a translation with only a PO) belongs to the orders whose own
-- spans carry that key (order_keys rows of spans naming them: Via '' or 'batch'). The key's owner
-- must already be stored; when it arrives later (a late key), the attribution step
-- (tracing/attribution.py, attribute_key_late.sql) attributes the span then. The owners of the
-- written spans' keys are read once per insert (a point lookup on order_keys.Key).
WITH
    (SELECT groupArrayIf(Name, Role = 'strong') FROM {{db}}.`tower_key_roles` FINAL) AS strong_names,
    (
        SELECT groupUniqArray((ok.Key, ok.KeyType, ok.OrderId))
        FROM {{db}}.`order_keys` AS ok
        WHERE ok.OrderId != '' AND ok.Via IN ('', 'batch')  -- (qualified: the outer aliases would shadow them)
          AND ok.Key IN (SELECT arrayJoin(arrayFilter(v -> v != '', arrayFlatten(arrayMap(
                          kv -> if(startsWith(kv.2, '['), JSONExtract(kv.2, 'Array(String)'), [kv.2]),
                          CAST(SpanAttributes, 'Array(Tuple(String, String))')))))
                      FROM {{source}}
                      WHERE empty({{include:order_ids}}))
    ) AS owners
SELECT
    owner.3 AS OrderId,
    Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`,
    concat('key:', owner.2) AS Via,
    toUInt8(4) AS Rank
FROM {{source}}
ARRAY JOIN arrayFilter(
    o -> has(strong_names, o.2)
         AND arrayExists(kv -> kv.1 = o.2 AND (kv.2 = o.1 OR (startsWith(kv.2, '[')
                                                             AND has(JSONExtract(kv.2, 'Array(String)'), o.1))),
                         CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    owners) AS owner
WHERE empty({{include:order_ids}})
LIMIT 1 BY OrderId, TraceId, SpanId
