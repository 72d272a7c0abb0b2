-- Orders reachable from one business key: a point lookup on order_keys' sort key.
-- Rows with an empty OrderId are spans that carried the key without an order id (stitched later).
SELECT
    OrderId,
    KeyType,
    min(Timestamp) AS FirstSeen,
    max(Timestamp) AS LastSeen,
    groupUniqArray(1000)(TraceId) AS TraceIds,
    groupUniqArray(1000)((TraceId, SpanId)) AS Refs
FROM order_keys
WHERE Key = {key:String}
GROUP BY OrderId, KeyType
ORDER BY FirstSeen, OrderId
LIMIT {limit:UInt32}
