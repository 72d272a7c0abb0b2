-- The most recently captured orders with where they are now (order_facts, kept by the KPI jobs).
-- Bounded by capture time so the CaptureAt skip index prunes the scan.
SELECT
    OrderId AS order_id,
    CaptureAt AS captured_at,
    LastActivityAt AS last_activity_at,
    CurrentStage AS current_stage,
    CurrentSystem AS current_system,
    Status AS status,
    Channel AS channel
FROM order_facts FINAL
WHERE CaptureAt >= {since:DateTime64(3)}
ORDER BY CaptureAt DESC, OrderId
LIMIT {limit:UInt32}
