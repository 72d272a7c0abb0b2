-- The KPI jobs' per-order state from rows of order_spans (one row per order and span): what
-- order_facts needs, as aggregate states that order_state (AggregatingMergeTree) merges. Every
-- state is idempotent — min, max, minMap, maxMap, distinct sets, exact distinct counts of span keys
-- — so a span written twice (re-sent, re-attributed, backfilled again) changes nothing, and the
-- merged state is a function of the order's distinct spans whatever order they arrived in.
-- Ties on a start time are broken by value (min of a tuple), never by arrival.
SELECT
    OrderId,
    min(s_ms) AS FirstMs,
    max(e_ms) AS LastMs,
    max(toDateTime(Timestamp)) AS LastAt,
    groupUniqArrayIfState((s_ms, e_ms, toString(System), toString(Stage), span), Stage != '') AS Hops,
    minMapIfState(map(toString(Stage), s_ms), Stage != '') AS StageStart,
    maxMapIfState(map(toString(Stage), e_ms), Stage != '') AS StageEnd,
    minIfState((s_ms, toString(Channel)), Channel != '') AS ChannelFirst,
    minIfState((s_ms, toString(Region)), Region != '') AS RegionFirst,
    minIfState((s_ms, toString(System)), SystemKind = 'erp') AS ErpFirst,
    minIfState((s_ms, toString(Warehouse)), Warehouse != '') AS WarehouseFirst,
    minIfState((s_ms, toString(CustomerTier)), CustomerTier != '') AS TierFirst,
    minIfState((s_ms, toString(Priority)), Priority != '') AS PriorityFirst,
    minIfState((s_ms, CustomerId), CustomerId != '') AS CustomerFirst,
    uniqExactIfState(span, StatusCode = 'Error') AS Errors,
    uniqExactIfState(span, ManualTouch = 1) AS Touches,
    minIfState((s_ms, toString(Stage), toString(System), User), ManualTouch = 1) AS FirstTouch,
    groupUniqArrayIfState(toString(OrderStatus), OrderStatus != '') AS Statuses,
    -- exception types on the span and on its events (order.exception.type on an event)
    groupUniqArrayArrayState(arrayConcat(if(ExceptionType != '', [toString(ExceptionType)], []), event_types)) AS Exceptions,
    uniqExactIfState(span, Stage = 'allocation') AS Allocations
FROM (
    SELECT
        OrderId, Timestamp, Stage, System, SystemKind, Channel, Region, Warehouse, CustomerTier, Priority,
        CustomerId, OrderStatus, ManualTouch, User, ExceptionType, StatusCode,
        arrayFilter(t -> t != '', arrayMap(a -> a['order.exception.type'], `Events.Attributes`)) AS event_types,
        toUnixTimestamp64Milli(Timestamp) AS s_ms,
        s_ms + intDiv(Duration, 1000000) AS e_ms,
        cityHash64(TraceId, SpanId) AS span
    FROM {{source}}
)
GROUP BY OrderId
