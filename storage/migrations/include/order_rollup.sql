-- The KPI jobs' per-order rollup from rows of order_spans (one row per order and span): what
-- order_facts needs, as plain values that order_rollup (AggregatingMergeTree with
-- SimpleAggregateFunction columns) merges with min, max and distinct-set unions.
-- Every merge is idempotent, so a span written twice (re-sent, re-attributed, backfilled again)
-- changes nothing, and the merged row is a function of the order's distinct spans whatever order
-- they arrived in. Ties on a start time are broken by value (min of a tuple), never by arrival.
-- A "first" with no matching span holds the sentinel (max Int64, ''), which any real span beats.
SELECT
    OrderId,
    min(s_ms) AS FirstMs,
    max(e_ms) AS LastMs,
    max(toDateTime(Timestamp)) AS LastAt,
    groupUniqArrayIf((s_ms, e_ms, toString(System), toString(Stage), span), Stage != '') AS Hops,
    min(if(Channel != '', (s_ms, toString(Channel)), (none_ms, ''))) AS ChannelFirst,
    min(if(Region != '', (s_ms, toString(Region)), (none_ms, ''))) AS RegionFirst,
    min(if(SystemKind = 'erp', (s_ms, toString(System)), (none_ms, ''))) AS ErpFirst,
    min(if(Warehouse != '', (s_ms, toString(Warehouse)), (none_ms, ''))) AS WarehouseFirst,
    min(if(CustomerTier != '', (s_ms, toString(CustomerTier)), (none_ms, ''))) AS TierFirst,
    min(if(Priority != '', (s_ms, toString(Priority)), (none_ms, ''))) AS PriorityFirst,
    min(if(CustomerId != '', (s_ms, CustomerId), (none_ms, ''))) AS CustomerFirst,
    groupUniqArrayIf(span, StatusCode = 'Error') AS Errors,
    groupUniqArrayIf(span, ManualTouch = 1) AS Touches,
    min(if(ManualTouch = 1, (s_ms, toString(Stage), toString(System), User), (none_ms, '', '', ''))) AS FirstTouch,
    groupUniqArrayIf(toString(OrderStatus), OrderStatus != '') AS Statuses,
    -- exception types on the span and on its events (order.exception.type on an event)
    groupUniqArrayArray(arrayConcat(if(ExceptionType != '', [toString(ExceptionType)], []), event_types)) AS Exceptions,
    groupUniqArrayIf(span, Stage = 'allocation') AS Allocations
FROM (
    SELECT
        OrderId, Timestamp, Stage, System, SystemKind, Channel, Region, Warehouse, CustomerTier, Priority,
        CustomerId, OrderStatus, ManualTouch, User, ExceptionType, StatusCode,
        arrayFilter(t -> t != '', arrayMap(a -> a['order.exception.type'], `Events.Attributes`)) AS event_types,
        toUnixTimestamp64Milli(Timestamp) AS s_ms,
        s_ms + intDiv(Duration, 1000000) AS e_ms,
        cityHash64(TraceId, SpanId) AS span,
        toInt64(9223372036854775807) AS none_ms
    FROM {{source}}
)
GROUP BY OrderId
