-- State changes of one alert (or every alert of a rule), newest first.
SELECT At, Fingerprint, Rule, Labels, FromState, ToState, Value, Note
FROM alert_state_history
WHERE ({fingerprint:String} = '' OR Fingerprint = {fingerprint:String})
  AND ({rule:String} = '' OR Rule = {rule:String})
ORDER BY At DESC
LIMIT {limit:UInt32}
