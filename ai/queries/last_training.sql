-- When a model was last trained (1970 when never).
SELECT max(TrainedAt) FROM ai_models
