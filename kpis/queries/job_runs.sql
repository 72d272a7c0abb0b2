-- Recent job runs, newest first.
SELECT toString(RunId) AS run_id, Job AS job, Mode AS mode, StartedAt AS started_at, DurationS AS duration_s,
       Rows AS rows, WatermarkFrom AS watermark_from, WatermarkTo AS watermark_to, Status AS status, Error AS error
FROM job_runs
WHERE {job:String} = '' OR Job = {job:String}
ORDER BY StartedAt DESC
LIMIT {limit:UInt32}
