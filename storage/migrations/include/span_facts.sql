-- What attribution needs to know of every span, one row each: the orders it names itself, its
-- strong keys (name, value) and whether it is scoped to one order (it carries a strong key or a
-- scope key such as an EDI transaction-set number: then it never inherits its parent's orders),
-- its parent and its links. Key roles are data (tower_key_roles), written at migrate time from
-- tracing.conventions.KEY_ROLES, so new key attributes need no DDL.
WITH
    (SELECT (groupArrayIf(Name, Role = 'strong'), groupArrayIf(Name, Role IN ('strong', 'scope')))
     FROM {{db}}.`tower_key_roles` FINAL) AS roles,
    roles.1 AS strong_names,
    roles.2 AS scope_names,
    CAST(SpanAttributes, 'Array(Tuple(String, String))') AS attributes
SELECT
    TraceId,
    SpanId,
    ParentSpanId,
    Timestamp,
    ServiceName,
    SpanName,
    {{include:order_ids}} AS OrderIds,
    arrayFlatten(arrayMap(
        kv -> arrayMap(v -> (kv.1, v), arrayFilter(v -> v != '',
            if(startsWith(kv.2, '['), JSONExtract(kv.2, 'Array(String)'), [kv.2]))),
        arrayFilter(kv -> has(strong_names, kv.1) AND kv.2 != '', attributes))) AS StrongKeys,
    toUInt8(arrayExists(kv -> has(scope_names, kv.1) AND kv.2 != '', attributes)) AS Scoped,
    `Links.TraceId` AS LinkTraceIds,
    `Links.SpanId` AS LinkSpanIds
FROM {{source}}
