-- Alert instances that matter now: pending or firing, or resolved since {resolved_since}.
SELECT Fingerprint, Rule, Labels, Annotations, State, Value, Orders, ActiveAt, FiredAt,
       LastActiveAt, ResolvedAt, EvaluatedAt
FROM alert_state FINAL
WHERE State IN ('pending', 'firing') OR (State = 'resolved' AND ResolvedAt >= {resolved_since:DateTime64(3)})
ORDER BY Rule, Fingerprint
