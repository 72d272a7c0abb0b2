-- How many of the filter's orders deviate, and how many orders show each deviation.
WITH devs AS (/*DEVIATIONS*/)
SELECT d.1 AS kind, d.2 AS detail, count() AS orders,
       (SELECT count() FROM devs) AS total_orders,
       (SELECT countIf(notEmpty(deviations)) FROM devs) AS deviating_orders
FROM devs
ARRAY JOIN deviations AS d
GROUP BY kind, detail
ORDER BY orders DESC, kind, detail
