-- Attribution, a later round: unscoped spans naming no order whose parent was attributed in the
-- previous round inherit its orders (the 997 under an EDI file span, calls under a carrier scan).
SELECT c.TraceId, c.SpanId, p.OrderId, 'parent', toUInt8(2)
FROM (SELECT TraceId, SpanId, OrderId FROM attribution_rounds
      WHERE RunId = {run:UInt64} AND Round = {previous:UInt8}) AS p
INNER JOIN (SELECT TraceId, SpanId, ParentSpanId FROM orderless_spans
            WHERE TraceId IN (SELECT TraceId FROM attribution_rounds
                              WHERE RunId = {run:UInt64} AND Round = {previous:UInt8})
              AND Scoped = 0 AND ParentSpanId != '') AS c
    ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
