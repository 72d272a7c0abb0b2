-- Whether a span arrived since the earliest watermark of the jobs that read spans: the first probe
-- of anything_new.sql's question, and the one that says yes in most runs (its bound includes the
-- overlap, as for every input from outside the chain).
SELECT count() FROM (SELECT 1 FROM order_spans WHERE ArrivedAt > {spans_since:DateTime64(3)} LIMIT 1)
