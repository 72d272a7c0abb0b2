-- The order-keyed read model (tracing/attribution.py writes the rules down; docs/conventions.md
-- "Which spans belong to an order"). order_spans holds every span attributed to an order, one row
-- per (order, span), sorted by (order id, time) in small granules: an order's whole story is one
-- point read. Spans that name their orders (order.id, order.batch.order_ids), and spans naming no
-- order whose strong key's owner is already stored, are written by materialized views as they
-- arrive; the rest (late keys, links, parents, children) by the attribution step
-- (tracing.attribution), which the collector runs after each write and the scheduler runs for other
-- writers.
-- Re-sent spans (same TraceId and SpanId) collapse on merge (ReplacingMergeTree); readers dedupe
-- before merges with LIMIT 1 BY or FINAL. The hop projection (stage, system, manual touch, ...) is
-- defined once, here, as MATERIALIZED columns; tracing/projection.py mirrors it for spans built in
-- Python and a test proves they agree. ArrivedAt is the insert time: the KPI jobs' watermark.

-- Key roles: how attribution treats each key attribute (order, strong, scope, weak); data written
-- at migrate time from tracing.conventions.KEY_ROLES, like tower_key_attributes.
CREATE TABLE IF NOT EXISTS {{table:tower_key_roles}} {{on_cluster}} (
    Name String,
    Role LowCardinality(String),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY Name;

{{distributed:tower_key_roles:rand()}};

CREATE TABLE IF NOT EXISTS {{table:order_spans}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    -- why the span belongs to the order: order | batch | key:<attribute> | link | linked_from | parent
    Via LowCardinality(String) CODEC(ZSTD(1)),
    -- the stronger reason wins when the same span reaches the order twice (6 order .. 2 parent)
    Rank UInt8,
    ArrivedAt DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),
    -- the hop projection, defined once (tracing/projection.py mirrors it)
    Stage LowCardinality(String) MATERIALIZED SpanAttributes['order.stage'],
    System LowCardinality(String) MATERIALIZED multiIf(
        SpanAttributes['system.instance'] != '', SpanAttributes['system.instance'],
        ResourceAttributes['system.instance'] != '', ResourceAttributes['system.instance'],
        ServiceName),
    SystemKind LowCardinality(String) MATERIALIZED
        if(SpanAttributes['system.kind'] != '', SpanAttributes['system.kind'], ResourceAttributes['system.kind']),
    Channel LowCardinality(String) MATERIALIZED SpanAttributes['order.channel'],
    Region LowCardinality(String) MATERIALIZED SpanAttributes['order.region'],
    Warehouse LowCardinality(String) MATERIALIZED SpanAttributes['warehouse.id'],
    CustomerTier LowCardinality(String) MATERIALIZED SpanAttributes['customer.tier'],
    CustomerId String MATERIALIZED SpanAttributes['customer.id'],
    Priority LowCardinality(String) MATERIALIZED SpanAttributes['order.priority'],
    OrderStatus LowCardinality(String) MATERIALIZED SpanAttributes['order.status'],
    ManualTouch UInt8 MATERIALIZED toUInt8(
        lower(trimBoth(SpanAttributes['order.manual_touch'], ' \t\n\r\x0B\x0C')) IN ('true', '1', 'yes')
        OR SpanAttributes['enduser.id'] != ''),
    User String MATERIALIZED SpanAttributes['enduser.id'],
    ExceptionType LowCardinality(String) MATERIALIZED SpanAttributes['order.exception.type'],
    ExceptionOutcome LowCardinality(String) MATERIALIZED if(
        SpanAttributes['order.exception.type'] != '' AND SpanAttributes['order.exception.outcome'] = '',
        'opened', SpanAttributes['order.exception.outcome']),
    INDEX idx_arrived ArrivedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree(Rank)}}
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (OrderId, Timestamp, TraceId, SpanId)
{{ttl:order_spans:toDateTime(Timestamp)}}
SETTINGS index_granularity = 256, ttl_only_drop_parts = 1{{dedup_window}};

{{distributed:order_spans:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_spans_named_mv` {{on_cluster}}
TO {{table:order_spans}}
AS {{include:order_spans_named:otel_traces}};

-- Span -> its orders (every row of order_spans, keyed by the span): "which orders does the parent of
-- this span, or the span this one links to, belong to", and "which orders do the children of this
-- span belong to" (a trace's rows, filtered by ParentSpanId), are point lookups here.
CREATE TABLE IF NOT EXISTS {{table:span_orders}} {{on_cluster}} (
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    OrderId String CODEC(ZSTD(1)),
    Named UInt8,
    Via LowCardinality(String) CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1))
) ENGINE = {{engine:ReplacingMergeTree()}}
PARTITION BY toMonday(Timestamp)
ORDER BY (TraceId, SpanId, OrderId)
{{ttl:span_orders:toDateTime(Timestamp)}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1{{dedup_window}};

{{distributed:span_orders:cityHash64(TraceId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`span_orders_mv` {{on_cluster}}
TO {{table:span_orders}}
AS SELECT TraceId, SpanId, OrderId, toUInt8(Via IN ('order', 'batch')) AS Named, Via, ParentSpanId, Timestamp
FROM {{table:order_spans}};

-- The keys of spans shared by orders (a batch listing them) or attributed to an order without naming
-- it (a carrier scan, an EDI file, its 997) also lead to those orders: "find an order by an EDI file
-- name" is a point lookup on Key. Via says how the row's span belongs to the order ('' for the rows
-- order_keys_mv writes for a span's own order.id; 'batch' for a batch span's keys: keys on spans
-- naming the order, the only ones that attribute other spans).
ALTER TABLE {{table:order_keys}} {{on_cluster}} ADD COLUMN IF NOT EXISTS Via LowCardinality(String) DEFAULT '';

{{alter_distributed:order_keys:ADD COLUMN IF NOT EXISTS Via LowCardinality(String) DEFAULT ''}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_keys_attributed_mv` {{on_cluster}}
TO {{table:order_keys}}
AS
WITH (SELECT groupArrayIf(Name, Role != 'order') FROM {{db}}.`tower_key_roles` FINAL) AS key_names
SELECT Key, kv.1 AS KeyType, OrderId, TraceId, SpanId, Timestamp, Via
FROM {{table:order_spans}}
ARRAY JOIN arrayFilter(kv -> has(key_names, kv.1) AND kv.2 != '', CAST(SpanAttributes, 'Array(Tuple(String, String))')) AS kv
ARRAY JOIN if(startsWith(kv.2, '['), JSONExtract(kv.2, 'Array(String)'), [kv.2]) AS Key
WHERE Via != 'order' AND Key != '';

-- Spans naming no order whose strong key's owner is already stored, as they are written (rule 3).
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_spans_keyed_mv` {{on_cluster}}
TO {{table:order_spans}}
AS {{include:order_spans_keyed:otel_traces}};

-- Every span as it arrives, with what attribution needs (span_facts), sorted by arrival time: the
-- attribution step reads what arrived since its watermark. Kept a week (ttl_days.span_arrivals).
CREATE TABLE IF NOT EXISTS {{table:span_arrivals}} {{on_cluster}} (
    ArrivedAt DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    OrderIds Array(String) CODEC(ZSTD(1)),
    StrongKeys Array(Tuple(String, String)) CODEC(ZSTD(1)),
    Scoped UInt8,
    LinkTraceIds Array(String) CODEC(ZSTD(1)),
    LinkSpanIds Array(String) CODEC(ZSTD(1))
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toDate(ArrivedAt)
ORDER BY (ArrivedAt, TraceId, SpanId)
{{ttl:span_arrivals:toDateTime(ArrivedAt)}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{{dedup_window}};

{{distributed:span_arrivals:cityHash64(TraceId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`span_arrivals_mv` {{on_cluster}}
TO {{table:span_arrivals}}
AS {{include:span_facts:otel_traces}};

-- Spans that name no order, keyed by the span: candidates for attribution by key, link or parent.
-- Kept as long as the spans (a key, link or parent may arrive days later).
CREATE TABLE IF NOT EXISTS {{table:orderless_spans}} {{on_cluster}} (
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    StrongKeys Array(Tuple(String, String)) CODEC(ZSTD(1)),
    Scoped UInt8,
    LinkTraceIds Array(String) CODEC(ZSTD(1)),
    LinkSpanIds Array(String) CODEC(ZSTD(1))
) ENGINE = {{engine:ReplacingMergeTree()}}
PARTITION BY toMonday(Timestamp)
ORDER BY (TraceId, SpanId)
{{ttl:orderless_spans:toDateTime(Timestamp)}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1{{dedup_window}};

{{distributed:orderless_spans:cityHash64(TraceId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`orderless_spans_mv` {{on_cluster}}
TO {{table:orderless_spans}}
AS SELECT TraceId, SpanId, ParentSpanId, Timestamp, ServiceName, SpanName, StrongKeys, Scoped,
          LinkTraceIds, LinkSpanIds
FROM {{table:span_arrivals}}
WHERE empty(OrderIds);

-- Scratch space of the attribution step: the (span, order) pairs found in each round of a run.
CREATE TABLE IF NOT EXISTS {{table:attribution_rounds}} {{on_cluster}} (
    RunId UInt64,
    Round UInt8,
    TraceId String,
    SpanId String,
    OrderId String,
    Via LowCardinality(String),
    Rank UInt8,
    StartNs Int64,  -- the span's start in ns (round-trips through Python without losing precision)
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    CreatedAt DateTime DEFAULT now()
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toDate(CreatedAt)
ORDER BY (RunId, Round, TraceId, SpanId)
TTL CreatedAt + toIntervalDay(1)
SETTINGS ttl_only_drop_parts = 1;

{{distributed:attribution_rounds:cityHash64(RunId)}};

-- Progress of one-off backfills (tower migrate): one row per finished step, so an interrupted
-- backfill resumes where it stopped.
CREATE TABLE IF NOT EXISTS {{table:tower_backfills}} {{on_cluster}} (
    Backfill String,
    Step String,
    Rows UInt64,
    DoneAt DateTime64(3)
) ENGINE = {{engine:ReplacingMergeTree()}}
ORDER BY (Backfill, Step);

{{distributed:tower_backfills:rand()}};

-- The read model replaces the by-trace copy of every span and the KPI jobs' hop tables.
DROP VIEW IF EXISTS {{db}}.`otel_traces_by_trace_mv` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{db}}.`otel_traces_by_trace` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{table:otel_traces_by_trace}} {{on_cluster}} SYNC;

DROP VIEW IF EXISTS {{db}}.`order_hops_mv` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{db}}.`order_hops` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{table:order_hops}} {{on_cluster}} SYNC;

DROP VIEW IF EXISTS {{db}}.`order_exception_events_mv` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{db}}.`order_exception_events` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{table:order_exception_events}} {{on_cluster}} SYNC;

DROP VIEW IF EXISTS {{db}}.`order_key_hops_mv` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{db}}.`order_key_hops` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{table:order_key_hops}} {{on_cluster}} SYNC;
