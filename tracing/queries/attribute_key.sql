-- Rule 3, key: an arriving span naming no order carries a strong key that spans naming orders carry.
SELECT a.TraceId, a.SpanId, k.OrderId, concat('key:', a.KeyType), toUInt8(4)
FROM (SELECT TraceId, SpanId, kv.1 AS KeyType, kv.2 AS Key
      FROM span_arrivals ARRAY JOIN StrongKeys AS kv
      WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds)) AS a
INNER JOIN (SELECT Key, KeyType, OrderId FROM order_keys
            WHERE Key IN (SELECT kv.2 FROM span_arrivals ARRAY JOIN StrongKeys AS kv
                          WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND empty(OrderIds))
              AND OrderId != '' AND Via IN ('', 'batch')) AS k
    ON k.Key = a.Key AND k.KeyType = a.KeyType
