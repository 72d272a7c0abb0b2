-- One version of a model.
SELECT * FROM ai_models FINAL WHERE Model = {m:String} AND Version = {v:UInt32}
