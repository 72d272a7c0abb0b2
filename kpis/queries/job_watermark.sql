-- The watermark of one job (no row: the job never ran).
SELECT argMax(Watermark, Version) FROM job_watermarks WHERE Job = {job:String} HAVING count() > 0
