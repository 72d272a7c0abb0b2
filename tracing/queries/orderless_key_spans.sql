-- Spans that carried one of the order's keys but no order id (a carrier event with only a tracking
-- number, a consolidated invoice, an EDI envelope): attached to the order through the shared key.
SELECT DISTINCT Key, KeyType, TraceId, SpanId
FROM order_keys
WHERE Key IN {keys:Array(String)} AND OrderId = ''
LIMIT {limit:UInt32}
