-- The latest prediction of each (model, subject, subject key), newest first, optionally only those
-- whose latest decision is one of {decisions}.
SELECT *
FROM (
    SELECT *
    FROM ai_predictions
    WHERE ({any_model:UInt8} = 1 OR Model = {model:String})
      AND ({any_subject:UInt8} = 1 OR Subject IN {subjects:Array(String)})
      AND PredictedAt >= {since:DateTime64(3)}
    ORDER BY Model, Subject, SubjectKey, CreatedAt DESC
    LIMIT 1 BY Model, Subject, SubjectKey
)
WHERE {any_decision:UInt8} = 1 OR Decision IN {decisions:Array(String)}
ORDER BY CreatedAt DESC, Score DESC
LIMIT {limit:UInt32}
