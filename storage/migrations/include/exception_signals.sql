-- The exception signals of rows of order_spans: one row per span that carries an exception
-- (order.exception.type; Event = 0) and per span event that does (Event = its position), with the
-- outcome ('opened' when not said), when, where and by whom. The order_exceptions job reads these
-- instead of every span of an order.
SELECT
    OrderId,
    s.2 AS ExceptionType,
    s.3 AS Outcome,
    s.4 AS At,
    System,
    Stage,
    s.5 AS User,
    TraceId,
    SpanId,
    s.1 AS Event,
    ArrivedAt
FROM (
    SELECT
        OrderId, TraceId, SpanId, System, Stage, ArrivedAt,
        arrayConcat(
            if(ExceptionType != '',
               [(toUInt16(0), toString(ExceptionType), toString(ExceptionOutcome), Timestamp, User)], []),
            arrayFilter(e -> e.2 != '', arrayMap(
                (n, t, a) -> (toUInt16(n), a['order.exception.type'],
                              if(a['order.exception.outcome'] = '', 'opened', a['order.exception.outcome']),
                              t, if(a['enduser.id'] != '', a['enduser.id'], User)),
                arrayEnumerate(`Events.Attributes`), `Events.Timestamp`, `Events.Attributes`))) AS signals
    FROM {{source}}
    WHERE ExceptionType != '' OR notEmpty(`Events.Name`)
)
ARRAY JOIN signals AS s
