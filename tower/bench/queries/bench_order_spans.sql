-- tower bench query: ten hop spans per order, simulator-shaped, generated inside ClickHouse.
-- Orders {first}..{first}+{count}-1; order n starts at {base_ns} + n * {spacing_ns}. Traces break
-- where the simulator breaks them: the order's own trace (capture..allocation; EDI orders are
-- captured in their partner's file trace, a translation with the PO and ST02 under the file span), a WMS trace per shipment (linked to the allocation), a
-- carrier webhook trace (tracking number only, linked to the ship confirmation) and the finance
-- ERP's nightly invoice run (one trace per day and 500 orders).
INSERT INTO otel_traces (
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
)
SELECT
    fromUnixTimestamp64Nano(toInt64(start_ns)) AS Timestamp,
    trace_id AS TraceId,
    span_id AS SpanId,
    parent_id AS ParentSpanId,
    '' AS TraceState,
    span_name AS SpanName,
    'Internal' AS SpanKind,
    system AS ServiceName,
    map('service.name', system) AS ResourceAttributes,
    'tower.bench' AS ScopeName,
    '1' AS ScopeVersion,
    mapFilter((k, v) -> v != '', map(
        'order.id', if((hop = 0 AND edi) OR hop = 8, '', order_id),
        'order.stage', stage,
        'system.kind', kind,
        'system.instance', system,
        'order.channel', if(edi, 'edi', 'ecommerce'),
        'customer.id', concat('C-', toString(n % 120)),
        'order.region', if(n % 2 = 0, 'east', 'west'),
        'order.customer_po', if(hop <= 1, concat('PO-', toString(7000000 + n)), ''),
        'order.ecommerce_id', if(hop = 0 AND NOT edi, concat('W', toString(7000000 + n)), ''),
        'edi.interchange_control_number', if(hop = 0 AND edi, leftPad(toString(file_no), 9, '0'), ''),
        'edi.transaction_set_control_number', if(hop = 0 AND edi, concat('ST', toString(n)), ''),
        'edi.transaction_set', if(hop = 0 AND edi, '850', ''),
        'shipment.id', if(hop = 7, concat('SH-', toString(4000000 + n)), ''),
        'shipment.tracking_number', if(hop IN (7, 8), tracking, ''),
        'shipment.carrier', if(hop IN (7, 8), carrier, ''),
        'warehouse.id', if(hop IN (5, 6, 7), concat('WH-', toString(n % 4)), ''),
        'invoice.id', if(hop = 9, concat('INV-', toString(900000 + intDiv(n, 2))), ''),
        'order.manual_touch', if(hop = 2 AND manual, 'true', ''),
        'enduser.id', if(hop = 2 AND manual, 'credit.desk', ''),
        'order.status', if(hop = 2 AND manual, 'released', '')
    )) AS SpanAttributes,
    toUInt64(duration_ns) AS Duration,
    'Ok' AS StatusCode,
    '' AS StatusMessage,
    if(hop = 2 AND manual, [fromUnixTimestamp64Nano(toInt64(start_ns + 60000000000)), fromUnixTimestamp64Nano(toInt64(start_ns + duration_ns - 60000000000))], []) AS `Events.Timestamp`,
    if(hop = 2 AND manual, ['exception', 'exception'], []) AS `Events.Name`,
    if(hop = 2 AND manual, [map('order.exception.type', 'credit_hold', 'order.exception.outcome', 'opened'), map('order.exception.type', 'credit_hold', 'order.exception.outcome', 'resolved')], []) AS `Events.Attributes`,
    link_trace AS `Links.TraceId`,
    link_span AS `Links.SpanId`,
    arrayMap(x -> '', link_trace) AS `Links.TraceState`,
    arrayMap(x -> map(), link_trace) AS `Links.Attributes`
FROM (
    SELECT
        number AS n,
        hop,
        n % 3 = 0 AS edi,
        n % 10 = 0 AS manual,
        intDiv(n, 150) AS file_no,
        concat('SO-', toString(1000000 + n)) AS order_id,
        concat('1Z', upper(substring(hex(MD5(concat('trk', toString(n)))), 1, 14))) AS tracking,
        if(n % 2 = 0, 'ups', 'fedex') AS carrier,
        ['capture', 'validation', 'credit', 'pricing', 'allocation', 'pick', 'pack', 'ship', 'deliver', 'invoice'][hop + 1] AS stage,
        [if(edi, 'edi', 'ecommerce'), 'middleware', 'erp', 'erp', 'erp', 'wms', 'wms', 'wms', 'carrier', 'finance'][hop + 1] AS kind,
        [if(edi, 'edi-gateway', 'web-shop'), 'middleware', if(n % 2 = 0, 'erp-east', 'erp-west'), if(n % 2 = 0, 'erp-east', 'erp-west'), if(n % 2 = 0, 'erp-east', 'erp-west'), 'wms', 'wms', 'wms', concat('carrier-', carrier), 'finance-cloud'][hop + 1] AS system,
        [if(edi, 'translate 850', 'POST /checkout'), 'orders.inbound process', 'credit check', 'price order', 'allocate inventory', 'pick', 'pack', 'ship confirm', 'delivery', 'post invoice'][hop + 1] AS span_name,
        {base_ns:Int64} + toInt64(n) * {spacing_ns:Int64} AS order_ns,
        -- the invoice run: 02:00 UTC the day after shipping
        (intDiv(order_ns + 18000000000000, 86400000000000) + 1) * 86400000000000 + 7200000000000 AS run_ns,
        [0, 40, 60, 120, 180, 7200, 10800, 18000, 129600, 0][hop + 1] * 1000000000 + order_ns AS plain_start,
        if(hop = 9, run_ns + 1000000000 + (n % 500) * 50000000, plain_start) AS start_ns,
        [1, 2, if(manual, 3600, 1), 1, 4, 900, 600, 10, 60, 0.2][hop + 1] * 1000000000 AS duration_ns,
        lower(hex(MD5(concat('o', toString(n))))) AS order_trace,
        lower(hex(MD5(concat('w', toString(n))))) AS wms_trace,
        [if(edi, lower(hex(MD5(concat('f', toString(file_no))))), order_trace), order_trace, order_trace, order_trace, order_trace,
         wms_trace, wms_trace, wms_trace,
         lower(hex(MD5(concat('c', toString(n))))),
         lower(hex(MD5(concat('r', toString(intDiv(run_ns, 86400000000000)), '-', toString(intDiv(n, 500))))))][hop + 1] AS trace_id,
        substring(lower(hex(MD5(concat('s', toString(n), '-', toString(hop))))), 1, 16) AS span_id,
        multiIf(hop = 9, substring(lower(hex(MD5(concat('run', toString(intDiv(run_ns, 86400000000000)), '-', toString(intDiv(n, 500)))))), 1, 16),
                hop = 0 AND edi, substring(lower(hex(MD5(concat('file', toString(file_no))))), 1, 16),  -- the 850's translation under its file
                '') AS parent_id,
        multiIf(
            hop = 5, [order_trace],
            hop = 8, [wms_trace],
            hop = 1 AND edi, [lower(hex(MD5(concat('f', toString(file_no)))))],
            []
        ) AS link_trace,
        multiIf(
            hop = 5, [substring(lower(hex(MD5(concat('s', toString(n), '-4')))), 1, 16)],
            hop = 8, [substring(lower(hex(MD5(concat('s', toString(n), '-7')))), 1, 16)],
            hop = 1 AND edi, [substring(lower(hex(MD5(concat('s', toString(n), '-0')))), 1, 16)],
            []
        ) AS link_span
    FROM numbers({first:UInt64}, {count:UInt64})
    ARRAY JOIN range(10) AS hop
)
