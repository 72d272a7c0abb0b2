-- The registry's audit trail, newest first, of every model or of one.
SELECT Model, Version, Action, Actor, Reason, At, Details
FROM ai_model_events
WHERE {any:UInt8} = 1 OR Model = {m:String}
ORDER BY At DESC
LIMIT {n:UInt32}
