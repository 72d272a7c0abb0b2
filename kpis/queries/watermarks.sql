-- Every job's watermark (the arrival time it has processed up to) and the store's clock, in one
-- round trip: one row, (now, [(job, watermark), ...]).
SELECT
    now64(3, 'UTC') AS Now,
    (SELECT groupArray((Job, Watermark))
     FROM (SELECT Job, argMax(Watermark, Version) AS Watermark FROM job_watermarks GROUP BY Job)) AS Marks
