-- One order's breached and at-risk SLAs as of {now}: sla_breaches.sql for a single order (the same
-- columns and states, from the shared fragments), as a point read of sla_results by its key
-- without the paging window.
SELECT {{include:sla_breach_columns}}
FROM sla_results FINAL
WHERE OrderId = {order_id:String} AND {{include:sla_breach_states}}
ORDER BY open DESC, coalesce(time_to_breach_s, 0) ASC, due_at ASC
LIMIT {limit:UInt32}
