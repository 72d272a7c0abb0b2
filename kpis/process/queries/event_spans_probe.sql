-- 1 when a hop span of the filter's orders in the range reaches its order other than by naming it
-- (a batch, a carrier scan, an EDI file: it may be shared by several orders), else 0: the export
-- then reads the range with event_spans_own.sql (no look-up of shared spans).
SELECT count() FROM (
    SELECT 1 FROM order_spans
    WHERE Stage != '' AND Via != 'order' AND OrderId IN (SELECT OrderId FROM (/*CASES*/)) /*RANGE*/
    LIMIT 1
)
