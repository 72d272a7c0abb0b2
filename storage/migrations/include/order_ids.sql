-- The orders a span names itself: its order.id, else each id its batch list names
-- (order.batch.order_ids, a JSON array as the exporter stores OTLP arrays, or a single id).
arrayFilter(o -> o != '', arrayDistinct(multiIf(
    SpanAttributes['order.id'] != '', [SpanAttributes['order.id']],
    startsWith(SpanAttributes['order.batch.order_ids'], '['),
    JSONExtract(SpanAttributes['order.batch.order_ids'], 'Array(String)'),
    [SpanAttributes['order.batch.order_ids']])))
