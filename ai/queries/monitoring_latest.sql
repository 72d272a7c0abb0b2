-- The latest value of each monitoring metric of each model (or of one model).
SELECT
    Model,
    Version,
    Metric,
    argMax(Value, At) AS value,
    argMax(Samples, At) AS samples,
    argMax(Details, At) AS details,
    max(At) AS at
FROM ai_monitoring
WHERE {any:UInt8} = 1 OR Model = {m:String}
GROUP BY Model, Version, Metric
ORDER BY at
