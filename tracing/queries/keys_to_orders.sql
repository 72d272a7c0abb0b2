-- Orders that carried any of these keys (with an order id on the same span).
SELECT DISTINCT Key, KeyType, OrderId
FROM order_keys
WHERE Key IN {keys:Array(String)} AND OrderId != ''
LIMIT {limit:UInt32}
