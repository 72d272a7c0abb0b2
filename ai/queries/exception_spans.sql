-- Exceptions as they opened (what the system said, where) with the reason code recorded when they
-- were resolved, if that was known by {label_until}. Spans that name no order are attributed by
-- their PO. Exceptions opened in [from, to).
WITH
    opened AS (
        SELECT OrderId, CustomerPo, SpanId, TraceId, ExceptionType, Stage, System, SystemKind, SpanName,
               StatusCode, StatusMessage, ErrorType, Message,
               toUnixTimestamp64Milli(Timestamp) + intDiv(DurationNs, 1000000) AS opened_ms,
               if(OrderId != '', OrderId, concat('po:', CustomerPo)) AS match_key
        FROM ai_exception_spans
        WHERE ExceptionOutcome = 'opened' AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}
          AND ({any_order:UInt8} = 1 OR OrderId IN {orders:Array(String)} OR SpanId IN {spans:Array(String)})
    ),
    resolved AS (
        SELECT if(OrderId != '', OrderId, concat('po:', CustomerPo)) AS match_key, ExceptionType, RootCause,
               toUnixTimestamp64Milli(Timestamp) + intDiv(DurationNs, 1000000) AS resolved_ms
        FROM ai_exception_spans
        WHERE ExceptionOutcome != 'opened' AND RootCause != ''
          AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {label_until:DateTime64(9)}
          AND toUnixTimestamp64Milli(Timestamp) + intDiv(DurationNs, 1000000) <= toUnixTimestamp64Milli({label_until:DateTime64(9)})
    ),
    po_orders AS (
        SELECT Key, any(OrderId) AS po_order FROM order_keys
        WHERE KeyType = 'order.customer_po' AND OrderId != ''
          AND Key IN (SELECT CustomerPo FROM opened WHERE OrderId = '')
        GROUP BY Key
    )
SELECT
    if(o.OrderId != '', o.OrderId, p.po_order) AS order_id,
    o.CustomerPo AS po,
    o.SpanId AS span_id,
    o.TraceId AS trace_id,
    o.ExceptionType AS exception_type,
    o.Stage AS stage,
    o.System AS system,
    o.SystemKind AS system_kind,
    o.SpanName AS span_name,
    o.StatusCode AS status_code,
    o.StatusMessage AS status_message,
    o.ErrorType AS error_type,
    o.Message AS message,
    o.opened_ms AS opened_ms,
    r.RootCause AS recorded_cause,
    r.resolved_ms AS resolved_ms
FROM opened AS o
ASOF LEFT JOIN resolved AS r
    ON o.match_key = r.match_key AND o.ExceptionType = r.ExceptionType AND r.resolved_ms >= o.opened_ms
LEFT JOIN po_orders AS p ON p.Key = o.CustomerPo
SETTINGS join_use_nulls = 0
