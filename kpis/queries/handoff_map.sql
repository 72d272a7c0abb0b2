-- System -> system handoffs of orders captured in [start, end): volume and waiting time (the gap
-- between one hop's end and the next hop's start, 0 when they overlap). Same-system steps are left out.
SELECT
    h.1 AS from_system,
    h.2 AS to_system,
    count() AS handoffs,
    quantileExactInclusive(0.5)(h.3) AS median_wait_s,
    quantileExactInclusive(0.9)(h.3) AS p90_wait_s,
    avg(h.3) AS mean_wait_s
FROM order_facts FINAL
ARRAY JOIN arrayZip(HandoffFrom, HandoffTo, HandoffWaitS) AS h
WHERE CaptureAt >= {start:DateTime64(3)} AND CaptureAt < {end:DateTime64(3)} AND h.1 != h.2
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
GROUP BY from_system, to_system
ORDER BY handoffs DESC, from_system, to_system
