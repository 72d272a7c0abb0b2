-- Synthetic order-hop spans generated inside ClickHouse (for `tower bench kpis` and load tests):
-- {count} orders numbered from {first}, captured evenly over [{start}, {end}), one hop per stage
-- with pseudo-random durations and handoff waits; hops that would start after {end} are left out
-- (open orders). Segments, manual touches (every 7th order), credit holds (every 20th, resolved
-- two stages later), errors (every 50th) and the documents the hops name follow the order number, so
-- results are reproducible.
-- The capture offset is computed in Int128: order number x window in nanoseconds overflows Int64
-- past ~3,500 orders over 30 days (the captures then wrapped and bunched on a few days).
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
                         ResourceAttributes, SpanAttributes, Duration, StatusCode)
WITH
    ['capture', 'validation', 'credit', 'pricing', 'allocation', 'pick', 'pack', 'ship', 'deliver', 'invoice'] AS stages,
    ['shop-web', 'erp-east', 'erp-east', 'erp-east', 'erp-east', 'wms-dallas', 'wms-dallas', 'wms-dallas', 'carrier-ups', 'finance-erp'] AS systems,
    ['ecommerce', 'erp', 'erp', 'erp', 'erp', 'wms', 'wms', 'wms', 'carrier', 'finance'] AS kinds
SELECT
    fromUnixTimestamp64Nano(toInt64(capture_ns + starts[k] * 1000000000), 'UTC') AS Timestamp,
    lower(hex(cityHash64(n, 'trace'))) || lower(hex(cityHash64(n, 'trace2'))) AS TraceId,
    lower(hex(cityHash64(n, k))) AS SpanId,
    '' AS ParentSpanId,
    stages[k] AS SpanName,
    'Internal' AS SpanKind,
    if(k IN (2, 3, 4, 5) AND erp_west, 'erp-west', systems[k]) AS ServiceName,
    map('service.name', ServiceName) AS ResourceAttributes,
    mapFilter((key, value) -> value != '', map(
        'order.id', order_id,
        'order.stage', stages[k],
        'system.instance', ServiceName,
        'system.kind', kinds[k],
        'order.channel', ['ecommerce', 'edi', 'portal', 'sales'][n % 4 + 1],
        'order.region', ['us-central', 'us-east', 'us-west'][n % 3 + 1],
        'warehouse.id', ['wh-dallas', 'wh-atlanta', 'wh-reno'][intDiv(n, 3) % 3 + 1],
        'customer.tier', ['standard', 'standard', 'key', 'strategic'][n % 4 + 1 + 0 * k],
        'order.priority', if(n % 10 = 0, 'expedite', 'standard'),
        'order.manual_touch', if(n % 7 = 0 AND k = 3, 'true', ''),
        'enduser.id', if(n % 7 = 0 AND k = 3, 'credit-analyst-' || toString(n % 5), ''),
        'order.exception.type', if(n % 20 = 0 AND k IN (3, 5), 'credit_hold', ''),
        'order.exception.outcome', if(n % 20 = 0 AND k = 3, 'opened', if(n % 20 = 0 AND k = 5, 'resolved', '')),
        'order.status', if(n % 33 = 0 AND k = 5, 'backordered', ''),
        -- the documents real hops name (OCEL objects, search keys): the customer's PO at capture,
        -- EDI orders' interchange (about ten orders of one partner each) and transaction set, the
        -- shipment and its tracking number at ship, one invoice for every two orders
        'order.customer_po', if(k = 1, 'PO-' || toString(n), ''),
        'edi.sender_id', if(k = 1 AND n % 4 = 1, 'PARTNER' || toString(intDiv(n, 40) % 25), ''),
        'edi.interchange_control_number', if(k = 1 AND n % 4 = 1, leftPad(toString(intDiv(n, 40) % 1000000000), 9, '0'), ''),
        'edi.transaction_set_control_number', if(k = 1 AND n % 4 = 1, leftPad(toString(n % 10000), 4, '0'), ''),
        'shipment.id', if(k = 8, 'SH-' || toString(n), ''),
        'shipment.tracking_number', if(k = 8, '1Z' || upper(substring(hex(cityHash64(n, 'trk')), 1, 16)), ''),
        'invoice.id', if(k = 10, 'INV-' || toString(intDiv(n, 2)), ''))) AS SpanAttributes,
    toUInt64(durs[k] * 1000000000) AS Duration,
    if(n % 50 = 0 AND k = 8, 'Error', 'Unset') AS StatusCode
FROM (
    SELECT
        number + {first:UInt64} AS n,
        'BO-' || toString(n) AS order_id,
        -- number * range in Int128: in Int64 it wraps past 2^63 ns (order 3,559 of 30 days), which
        -- put most orders of a large count before {start}
        toUnixTimestamp64Nano(toDateTime64({start:DateTime64(3)}, 9, 'UTC'))
            + toInt64(intDiv(toInt128(number) * (toUnixTimestamp64Nano(toDateTime64({end:DateTime64(3)}, 9, 'UTC'))
                                                 - toUnixTimestamp64Nano(toDateTime64({start:DateTime64(3)}, 9, 'UTC'))), {count:UInt64})) AS capture_ns,
        arrayMap(k -> 30 + cityHash64(n, k, 'd') % 900, range(10)) AS durs,
        arrayMap(k -> 60 + cityHash64(n, k, 'g') % (if(k = 7, 20000, 3000)), range(10)) AS gaps,
        arrayPushFront(arrayPopBack(arrayCumSum(arrayMap(k -> durs[k + 1] + gaps[k + 1], range(10)))), 0) AS starts,
        n % 5 = 1 AS erp_west
    FROM numbers({count:UInt64})
)
ARRAY JOIN range(1, 11) AS k
WHERE capture_ns + starts[k] * 1000000000 < toUnixTimestamp64Nano(toDateTime64({end:DateTime64(3)}, 9, 'UTC'))
