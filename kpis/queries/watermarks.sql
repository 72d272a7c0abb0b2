-- Every job's watermark (the arrival time it has processed up to).
SELECT Job, argMax(Watermark, Version) AS Watermark FROM job_watermarks GROUP BY Job
