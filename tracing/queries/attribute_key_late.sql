-- Rule 3, key, late: an arriving span naming orders carries a strong key that spans naming no order
-- carried before (a carrier scan sent before the ship confirmation, a translation before the order).
SELECT w.TraceId, w.SpanId, a.OrderId, concat('key:', a.KeyType), toUInt8(4)
FROM (SELECT OrderId, kv.1 AS KeyType, kv.2 AS Key
      FROM span_arrivals ARRAY JOIN StrongKeys AS kv ARRAY JOIN OrderIds AS OrderId
      WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}) AS a
INNER JOIN (SELECT Key, KeyType, TraceId, SpanId FROM order_keys
            WHERE Key IN (SELECT kv.2 FROM span_arrivals ARRAY JOIN StrongKeys AS kv
                          WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND notEmpty(OrderIds))
              AND OrderId = '') AS w
    ON w.Key = a.Key AND w.KeyType = a.KeyType
