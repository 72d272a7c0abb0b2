-- When the tower learnt what about each order: the first end of each stage's hops, of each exception
-- opened, of the first allocation to each warehouse, and the ends of manual touches (hops are known
-- once they end), from the order-keyed table order_spans. Orders whose lines span started in
-- [from, to) (or the given orders); hops up to {until}.
WITH chosen AS (
    SELECT DISTINCT OrderId FROM ai_order_lines
    WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}
      AND ({any_order:UInt8} = 1 OR OrderId IN {orders:Array(String)})
),
hops AS (
    -- the order-keyed table: the order's own spans and those attributed to it (a carrier scan with
    -- only a tracking number, a translation with only its PO), each once (a re-sent span counts once)
    SELECT OrderId, Stage, Warehouse, ExceptionType, ExceptionOutcome, ManualTouch,
           toUnixTimestamp64Milli(Timestamp) + intDiv(Duration, 1000000) AS end_ms
    FROM order_spans
    WHERE Timestamp >= {from:DateTime64(9)} - INTERVAL 2 DAY AND Timestamp < {until:DateTime64(9)}
      AND OrderId IN chosen
    LIMIT 1 BY OrderId, TraceId, SpanId
)
SELECT
    OrderId AS order_id,
    groupArrayIf(name, kind = 's') AS stages,
    groupArrayIf(t, kind = 's') AS stage_ms,
    groupArrayIf(name, kind = 'x') AS exceptions,
    groupArrayIf(t, kind = 'x') AS exception_ms,
    groupArrayIf(name, kind = 'w') AS warehouses,
    groupArrayIf(t, kind = 'w') AS warehouse_ms,
    groupArrayIf(t, kind = 'm') AS touch_ms
FROM (
    SELECT OrderId, 's' AS kind, Stage AS name, min(end_ms) AS t FROM hops WHERE Stage != '' GROUP BY OrderId, Stage
    UNION ALL
    SELECT OrderId, 'x' AS kind, ExceptionType AS name, min(end_ms) AS t FROM hops
    WHERE ExceptionType != '' AND ExceptionOutcome = 'opened' GROUP BY OrderId, ExceptionType
    UNION ALL
    SELECT OrderId, 'w' AS kind, Warehouse AS name, min(end_ms) AS t FROM hops
    WHERE Warehouse != '' AND Stage = 'allocation' GROUP BY OrderId, Warehouse
    UNION ALL
    SELECT OrderId, 'm' AS kind, '' AS name, end_ms AS t FROM hops WHERE ManualTouch = 1
)
GROUP BY OrderId
