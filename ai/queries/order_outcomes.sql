-- How orders turned out, from the KPI engine's order facts: capture, the end of the ship and invoice
-- stages, status and segment. Orders captured in [from, to).
SELECT
    OrderId AS order_id,
    toUnixTimestamp64Milli(CaptureAt) AS capture_ms,
    if(mapContains(StageEnd, 'ship'), toUnixTimestamp64Milli(StageEnd['ship']), 0) AS ship_ms,
    if(mapContains(StageEnd, 'invoice'), toUnixTimestamp64Milli(StageEnd['invoice']), 0) AS invoice_ms,
    Status AS status,
    Channel AS f_channel,
    Region AS f_region,
    Warehouse AS f_warehouse,
    CustomerTier AS f_customer_tier,
    Priority AS f_priority,
    ExceptionTypes AS exception_types,
    toUnixTimestamp64Milli(LastActivityAt) AS last_ms
FROM order_facts FINAL
WHERE CaptureAt >= {from:DateTime64(3)} AND CaptureAt < {to:DateTime64(3)}
  AND ({any_order:UInt8} = 1 OR OrderId IN {orders:Array(String)})
