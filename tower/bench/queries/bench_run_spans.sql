-- tower bench query: the finance ERP's nightly invoice runs, one trace per day and 500 orders, the
-- root span listing every order of the run (as the simulator does); post-invoice spans are children.
INSERT INTO otel_traces (
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
)
SELECT
    fromUnixTimestamp64Nano(toInt64(run_day * 86400000000000 + 7200000000000)),
    lower(hex(MD5(concat('r', toString(run_day), '-', toString(chunk))))),
    substring(lower(hex(MD5(concat('run', toString(run_day), '-', toString(chunk))))), 1, 16),
    '',
    '',
    'invoice run',
    'Internal',
    'finance-cloud',
    map('service.name', 'finance-cloud'),
    'tower.bench',
    '1',
    map('order.batch.id', concat('INVRUN-', toString(run_day), '-', toString(chunk)), 'order.batch.order_ids', toJSONString(orders),
        'order.batch.size', toString(length(orders)), 'order.stage', 'invoice',
        'system.kind', 'finance', 'system.instance', 'finance-cloud'),
    toUInt64(1800000000000),
    'Ok',
    '',
    [], [], [], [], [], [], []
FROM (
    SELECT
        intDiv((intDiv({base_ns:Int64} + toInt64(number) * {spacing_ns:Int64} + 18000000000000, 86400000000000) + 1) * 86400000000000, 86400000000000) AS run_day,
        intDiv(number, 500) AS chunk,
        groupArray(concat('SO-', toString(1000000 + number))) AS orders
    FROM numbers({orders:UInt64})
    GROUP BY run_day, chunk
)
