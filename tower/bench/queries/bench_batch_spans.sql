-- tower bench query: per EDI file, the gateway's file span (file name, interchange and group control
-- numbers, no order ids) and the middleware's batch span listing the file's orders, linked to the file
-- span (every third order is EDI, 50 per file of 150 order numbers). Files {first}..{first}+{count}-1.
INSERT INTO otel_traces (
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
)
SELECT
    fromUnixTimestamp64Nano(toInt64({base_ns:Int64} + toInt64(f * 150) * {spacing_ns:Int64} - if(part = 0, 60000000000, 0))),
    lower(hex(MD5(concat(if(part = 0, 'f', 'm'), toString(f))))),
    substring(lower(hex(MD5(concat(if(part = 0, 'file', 'mwbatch'), toString(f))))), 1, 16),
    '',
    '',
    if(part = 0, 'receive 850 file', 'orders.batch split'),
    'Consumer',
    if(part = 0, 'edi-gateway', 'middleware'),
    map('service.name', if(part = 0, 'edi-gateway', 'middleware')),
    'tower.bench',
    '1',
    if(
        part = 0,
        map('order.batch.id', concat('F-', toString(f)), 'edi.interchange_control_number', leftPad(toString(f), 9, '0'),
            'edi.group_control_number', toString(200000 + f), 'system.kind', 'edi', 'system.instance', 'edi-gateway'),
        map('order.batch.id', concat('B-', toString(f)),
            'order.batch.order_ids', toJSONString(arrayMap(i -> concat('SO-', toString(1000000 + f * 150 + i * 3)), range(toUInt64(least(50, intDiv({orders:UInt64} - f * 150 + 2, 3)))))),
            'order.batch.size', toString(least(50, intDiv({orders:UInt64} - f * 150 + 2, 3))),
            'system.kind', 'middleware', 'system.instance', 'middleware')
    ),
    30000000000,
    'Ok',
    '',
    [], [], [],
    -- the middleware's batch links to the gateway's file span
    if(part = 0, [], [lower(hex(MD5(concat('f', toString(f)))))]),
    if(part = 0, [], [substring(lower(hex(MD5(concat('file', toString(f))))), 1, 16)]),
    if(part = 0, [], ['']),
    if(part = 0, [], [map()])
FROM (SELECT number AS f FROM numbers({first:UInt64}, {count:UInt64}))
ARRAY JOIN [0, 1] AS part

