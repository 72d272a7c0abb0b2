-- Silences, newest first; {active_at} set to a time keeps those active then.
SELECT Id, Matchers, StartsAt, EndsAt, CreatedBy, Comment, UpdatedAt
FROM alert_silences FINAL
WHERE ({only_active:UInt8} = 0 OR (StartsAt <= {active_at:DateTime64(3)} AND EndsAt > {active_at:DateTime64(3)}))
ORDER BY StartsAt DESC
LIMIT {limit:UInt32}
