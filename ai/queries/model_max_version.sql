-- The highest version of a model registered so far (0 when none).
SELECT max(Version) FROM ai_models WHERE Model = {m:String}
