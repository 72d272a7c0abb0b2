-- The hop spans of the filter's orders in one range of order ids, each row once (FINAL), with the
-- objects it names: the rows export_events.sql makes events of (event_spans_*.sql put this text
-- where they say SPAN_ROWS; filter_orders is theirs).
SELECT OrderId, TraceId, SpanId, Timestamp, Duration, SpanName, StatusCode, Via, Stage, System,
       SystemKind, OrderStatus, ManualTouch, User, ExceptionType, ExceptionOutcome,
       /*SPAN_OBJECTS*/ AS objs
FROM order_spans FINAL
WHERE Stage != '' AND OrderId IN filter_orders /*RANGE*/
