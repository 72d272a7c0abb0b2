SELECT Fingerprint, Rule, Labels, Annotations, State, Value, Orders, ActiveAt, FiredAt,
       LastActiveAt, ResolvedAt, EvaluatedAt
FROM alert_state FINAL
WHERE Fingerprint = {fingerprint:String}
LIMIT 1
