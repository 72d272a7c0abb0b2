-- What one range of the filter's orders holds, read from every version of its hop spans (no FINAL:
-- a superset of the export's rows), each 1 or 0:
-- shared: a hop span reaches its order other than by naming it (a batch, a carrier scan, an EDI
--   file: it may be shared by several orders); else the export reads the range with
--   event_spans_own.sql (no look-up of shared spans);
-- objects: a hop span names an object (order_spans.SpanObjects is not empty); else the export
--   leaves out the look-up of the objects.
SELECT max(Via != 'order') AS shared,
       max(notEmpty(SpanObjects)) AS objects
FROM order_spans
WHERE Stage != '' AND OrderId IN (SELECT OrderId FROM (/*CASES*/)) /*RANGE*/
