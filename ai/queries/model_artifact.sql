-- The stored model file of a version (the one with the registered digest when there are several).
SELECT argMax(Artifact, Sha256 = {h:String}) FROM ai_model_artifacts WHERE Model = {m:String} AND Version = {v:UInt32}
