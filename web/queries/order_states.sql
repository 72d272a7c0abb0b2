-- Where each of a list of orders stands now (order_facts, kept by the KPI jobs): for search results.
SELECT
    OrderId AS order_id,
    Status AS status,
    CurrentStage AS current_stage,
    CurrentSystem AS current_system,
    LastActivityAt AS last_activity_at
FROM order_facts FINAL
WHERE OrderId IN {order_ids:Array(String)}
