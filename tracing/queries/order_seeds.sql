-- The spans that name the order itself: order.id, or a batch span listing it (order-id key types,
-- whose OrderId is the key). A point lookup on order_keys' sort key.
SELECT DISTINCT KeyType, TraceId, SpanId
FROM order_keys
WHERE Key = {order_id:String} AND OrderId = {order_id:String}
LIMIT {limit:UInt32}
