-- Open orders whose latest delay prediction says at risk, riskiest first: the prediction joined with
-- the order's current facts (an SLA whose end stage has been reached is no longer at risk).
SELECT
    p.PredictionId AS prediction_id,
    p.Subject AS order_id,
    p.SubjectKey AS sla,
    p.Score AS risk,
    p.Version AS version,
    p.PredictedAt AS predicted_at,
    p.Reason AS reason,
    p.Explanation AS explanation,
    f.CurrentStage AS stage,
    f.CurrentSystem AS system,
    f.Channel AS channel,
    f.Region AS region,
    f.Warehouse AS warehouse,
    f.CustomerTier AS customer_tier,
    f.CustomerId AS customer,
    f.CaptureAt AS captured_at
FROM (
    SELECT *
    FROM ai_predictions
    WHERE Model = 'delay' AND PredictedAt >= {since:DateTime64(3)}
      AND ({any_sla:UInt8} = 1 OR SubjectKey = {sla:String})
    ORDER BY Subject, SubjectKey, CreatedAt DESC
    LIMIT 1 BY Subject, SubjectKey
) AS p
INNER JOIN (
    SELECT OrderId, Status, CurrentStage, CurrentSystem, Channel, Region, Warehouse, CustomerTier, CustomerId, CaptureAt, StageEnd
    FROM order_facts FINAL
    WHERE CaptureAt >= {since:DateTime64(3)} - INTERVAL 30 DAY
) AS f ON f.OrderId = p.Subject
WHERE p.Decision = 'at_risk' AND f.Status = 'open'
  AND NOT mapContains(f.StageEnd, arrayElement({end_stages:Array(String)}, indexOf({sla_names:Array(String)}, p.SubjectKey)))
ORDER BY p.Score DESC
LIMIT {limit:UInt32}
