-- The rows of order_rollup (about one per order once merged): how big a full recompute will be.
SELECT sum(rows) FROM system.parts
WHERE active AND database = currentDatabase() AND table = 'order_rollup'
