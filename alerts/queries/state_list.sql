-- Alert instances for display, newest activity first; empty {states} lists every state.
SELECT Fingerprint, Rule, Labels, Annotations, State, Value, Orders, ActiveAt, FiredAt,
       LastActiveAt, ResolvedAt, EvaluatedAt
FROM alert_state FINAL
WHERE (empty({states:Array(String)}) OR has({states:Array(String)}, State))
  AND ({rule:String} = '' OR Rule = {rule:String})
ORDER BY LastActiveAt DESC, Fingerprint
LIMIT {limit:UInt32}
