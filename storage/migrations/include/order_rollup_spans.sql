-- order_rollup's row for each row of order_spans, as the view writes them (order_rollup.sql groups
-- by order instead, for the rebuild): the same values order_rollup.sql gives an order with one span,
-- merged with the same functions (min, max, distinct-set unions) by the table's merges and readers.
-- Every distinct-set column holds distinct values (a one-span set, or arrayDistinct), so a row the
-- order_facts job reads unmerged means what a grouped one does. Grouping in the view put ~18
-- aggregate states per order of each insert through a hash table: ~22 of the ~47 µs per span that
-- all views cost (4 x 50,000 distinct bench spans, merges stopped); this costs ~4.
SELECT
    OrderId,
    s_ms AS FirstMs,
    e_ms AS LastMs,
    toDateTime(Timestamp) AS LastAt,
    if(Stage != '', [(s_ms, e_ms, toString(System), toString(Stage), span)], []) AS Hops,
    if(Channel != '', (s_ms, toString(Channel)), (none_ms, '')) AS ChannelFirst,
    if(Region != '', (s_ms, toString(Region)), (none_ms, '')) AS RegionFirst,
    if(SystemKind = 'erp', (s_ms, toString(System)), (none_ms, '')) AS ErpFirst,
    if(Warehouse != '', (s_ms, toString(Warehouse)), (none_ms, '')) AS WarehouseFirst,
    if(CustomerTier != '', (s_ms, toString(CustomerTier)), (none_ms, '')) AS TierFirst,
    if(Priority != '', (s_ms, toString(Priority)), (none_ms, '')) AS PriorityFirst,
    if(CustomerId != '', (s_ms, CustomerId), (none_ms, '')) AS CustomerFirst,
    if(StatusCode = 'Error', [span], []) AS Errors,
    if(ManualTouch = 1, [span], []) AS Touches,
    if(ManualTouch = 1, (s_ms, toString(Stage), toString(System), User), (none_ms, '', '', '')) AS FirstTouch,
    if(OrderStatus != '', [toString(OrderStatus)], []) AS Statuses,
    -- exception types on the span and on its events (order.exception.type on an event)
    arrayDistinct(arrayConcat(if(ExceptionType != '', [toString(ExceptionType)], []), event_types)) AS Exceptions,
    if(Stage = 'allocation', [span], []) AS Allocations
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
