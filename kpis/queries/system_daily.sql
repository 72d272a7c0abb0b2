-- Per-system throughput, errors and latency by day over [start, end) (latest version per day).
SELECT Day AS day, System AS system, SystemKind AS system_kind, Hops AS hops, Orders AS orders, Errors AS errors,
       LatencyMeanS AS latency_mean_s, LatencyP50S AS latency_p50_s, LatencyP95S AS latency_p95_s
FROM kpi_system_daily
WHERE Day >= {start:Date} AND Day < {end:Date}
  AND (Day, Version) IN (SELECT Day, max(Version) FROM kpi_system_daily WHERE Day >= {start:Date} AND Day < {end:Date} GROUP BY Day)
  AND ({system:String} = '' OR System = {system:String})
ORDER BY Day, System
