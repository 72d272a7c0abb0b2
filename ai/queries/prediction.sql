-- One prediction by its id.
SELECT * FROM ai_predictions WHERE PredictionId = {p:UUID} LIMIT 1
