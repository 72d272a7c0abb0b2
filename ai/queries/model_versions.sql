-- Every version of a model, newest first.
SELECT * FROM ai_models FINAL WHERE Model = {m:String} ORDER BY Version DESC
