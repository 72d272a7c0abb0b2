-- The active version of a model (none when no version is active).
SELECT * FROM ai_models FINAL WHERE Model = {m:String} AND Status = 'active' ORDER BY StatusAt DESC LIMIT 1
