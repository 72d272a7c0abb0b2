-- Reviews of predictions, newest first, optionally of some subjects or of one model.
SELECT *
FROM ai_reviews
WHERE ({any_subject:UInt8} = 1 OR Subject IN {subjects:Array(String)})
  AND ({any_model:UInt8} = 1 OR Model = {model:String})
ORDER BY At DESC
LIMIT {limit:UInt32}
