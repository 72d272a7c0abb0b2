-- Orders a business key leads to: a point lookup on order_keys' sort key. A key on a span naming an
-- order leads to it (Via ''); a key on a span attributed to orders without naming them (an EDI
-- file name, a carrier's tracking number) leads to each of those orders (Via: how the span
-- belongs). Rows without an order are spans not attributed (yet).
SELECT
    OrderId,
    groupUniqArray(KeyType) AS KeyTypes,
    min(Timestamp) AS FirstSeen,
    max(Timestamp) AS LastSeen,
    groupUniqArray(1000)(TraceId) AS TraceIds,
    groupUniqArray(Via) AS Vias
FROM order_keys
WHERE Key = {key:String} AND OrderId != ''
GROUP BY OrderId
ORDER BY FirstSeen, OrderId
LIMIT {limit:UInt32}
