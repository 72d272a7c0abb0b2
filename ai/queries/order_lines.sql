-- What each order is (the earliest span carrying its lines): customer, credit tier, channel, PO,
-- lines and value, and when the tower first knew it (the span's end). Orders whose lines span
-- started in [from, to), optionally only the given customers or orders.
SELECT
    OrderId AS order_id,
    argMin(CustomerId, Timestamp) AS customer,
    argMin(CreditTier, Timestamp) AS credit_tier,
    argMin(CustomerTier, Timestamp) AS customer_tier,
    argMin(Channel, Timestamp) AS channel,
    argMin(Region, Timestamp) AS region,
    argMin(Priority, Timestamp) AS priority,
    argMin(System, Timestamp) AS system,
    argMin(CustomerPo, Timestamp) AS po,
    argMin(EcommerceId, Timestamp) AS web_id,
    argMin(Amount, Timestamp) AS amount,
    argMin(Quantity, Timestamp) AS quantity,
    argMin(Skus, Timestamp) AS skus,
    argMin(Quantities, Timestamp) AS quantities,
    min(toUnixTimestamp64Milli(Timestamp)) AS start_ms,
    argMin(toUnixTimestamp64Milli(Timestamp) + intDiv(DurationNs, 1000000), Timestamp) AS known_ms
FROM ai_order_lines
WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}
  AND ({any_customer:UInt8} = 1 OR CustomerId IN {customers:Array(String)})
  AND ({any_order:UInt8} = 1 OR OrderId IN {orders:Array(String)})
GROUP BY OrderId
