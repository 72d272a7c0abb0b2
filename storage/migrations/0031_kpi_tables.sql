-- Tables the KPI and SLA jobs (kpis/) maintain. Mutable records are ReplacingMergeTree with a
-- Version column (the latest version of a key wins); UpdatedAt is the insert time that the next job
-- in the chain uses as its watermark.

-- One row per order: stage times, durations, handoffs, segments, counts (SLA outcomes: sla_results).
CREATE TABLE IF NOT EXISTS {{table:order_facts}} {{on_cluster}} (
    OrderId String,
    CaptureAt DateTime64(3),
    LastActivityAt DateTime64(3),
    ShipAt Nullable(DateTime64(3)),
    DeliverAt Nullable(DateTime64(3)),
    InvoiceAt Nullable(DateTime64(3)),
    StageStart Map(LowCardinality(String), DateTime64(3)),
    StageEnd Map(LowCardinality(String), DateTime64(3)),
    StageDurationS Map(LowCardinality(String), Float64),
    HandoffFrom Array(LowCardinality(String)),
    HandoffTo Array(LowCardinality(String)),
    HandoffWaitS Array(Float64),
    HandoffTotalS Float64,
    CurrentStage LowCardinality(String),
    CurrentSystem LowCardinality(String),
    Status LowCardinality(String),
    Channel LowCardinality(String),
    Region LowCardinality(String),
    ErpInstance LowCardinality(String),
    Warehouse LowCardinality(String),
    CustomerTier LowCardinality(String),
    Priority LowCardinality(String),
    CustomerId String,
    HopCount UInt32,
    ErrorCount UInt32,
    ManualTouchCount UInt32,
    FirstTouchStage LowCardinality(String),
    FirstTouchSystem LowCardinality(String),
    FirstTouchUser String,
    FirstTouchAt Nullable(DateTime64(3)),
    ExceptionTypes Array(LowCardinality(String)),
    ExceptionCount UInt32,
    OrderStatuses Array(LowCardinality(String)),
    AllocationCount UInt32,
    AllocationAccurate UInt8,
    CycleTimeS Nullable(Float64),
    InvoiceLatencyS Nullable(Float64),
    Touchless UInt8,
    PerfectEligible UInt8,
    PerfectMiss LowCardinality(String),
    PerfectOtherwise UInt8,
    SlaCompleted Array(LowCardinality(String)),
    UpdatedAt DateTime64(3),
    Version UInt64,
    INDEX idx_updated UpdatedAt TYPE minmax GRANULARITY 1,
    INDEX idx_capture CaptureAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY OrderId
{{ttl:order_facts:toDateTime(CaptureAt)}};

{{distributed:order_facts:cityHash64(OrderId)}};

-- SLA results: one row per order and SLA that is breached (completed late), open (not completed yet;
-- at risk or breached by now is judged at read time from DueAt, so open rows never go stale) or
-- skipped (the order closed without the end edge). Met results are written only when they replace
-- one of those; attainment counts come from order_facts.SlaCompleted minus the breached rows.
CREATE TABLE IF NOT EXISTS {{table:sla_results}} {{on_cluster}} (
    OrderId String,
    Sla LowCardinality(String),
    Kind LowCardinality(String),
    Stage LowCardinality(String),
    State LowCardinality(String),
    StartAt DateTime64(3),
    EndAt Nullable(DateTime64(3)),
    DueAt DateTime64(3),
    TargetS Float64,
    ElapsedS Nullable(Float64),
    WarnS Float64,
    Business UInt8,
    CaptureAt DateTime64(3),
    OrderStatus LowCardinality(String),
    CurrentStage LowCardinality(String),
    CurrentSystem LowCardinality(String),
    Channel LowCardinality(String),
    Region LowCardinality(String),
    ErpInstance LowCardinality(String),
    Warehouse LowCardinality(String),
    CustomerTier LowCardinality(String),
    Priority LowCardinality(String),
    UpdatedAt DateTime64(3),
    Version UInt64,
    INDEX idx_updated UpdatedAt TYPE minmax GRANULARITY 1,
    INDEX idx_state State TYPE set(8) GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (OrderId, Sla)
{{ttl:sla_results:toDateTime(CaptureAt)}};

{{distributed:sla_results:cityHash64(OrderId)}};

-- Exceptions: one row per order and exception type, from spans and span events, merged with the
-- people's actions (owner, manual resolution) from exception_actions.
CREATE TABLE IF NOT EXISTS {{table:order_exceptions}} {{on_cluster}} (
    OrderId String,
    ExceptionType LowCardinality(String),
    System LowCardinality(String),
    Stage LowCardinality(String),
    OpenedAt DateTime64(3),
    ResolvedAt Nullable(DateTime64(3)),
    ResolvedBy String,
    ResolutionS Nullable(Float64),
    Status LowCardinality(String),
    Owner String,
    Comments UInt32,
    Channel LowCardinality(String),
    Region LowCardinality(String),
    ErpInstance LowCardinality(String),
    Warehouse LowCardinality(String),
    CustomerTier LowCardinality(String),
    Priority LowCardinality(String),
    UpdatedAt DateTime64(3),
    Version UInt64,
    INDEX idx_updated UpdatedAt TYPE minmax GRANULARITY 1
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (OrderId, ExceptionType)
{{ttl:order_exceptions:toDateTime(OpenedAt)}};

{{distributed:order_exceptions:cityHash64(OrderId)}};

-- Audit trail of what people did to exceptions: assign, comment, resolve (append-only).
CREATE TABLE IF NOT EXISTS {{table:exception_actions}} {{on_cluster}} (
    ActionId UUID,
    OrderId String,
    ExceptionType LowCardinality(String),
    Action LowCardinality(String),
    Actor String,
    Owner String,
    Note String,
    At DateTime64(3)
) ENGINE = {{engine:MergeTree()}}
ORDER BY (OrderId, ExceptionType, At)
{{ttl:exception_actions:toDateTime(At)}};

{{distributed:exception_actions:cityHash64(OrderId)}};

-- KPI rollups by capture day (exceptions: by day opened) and segment. A recompute of a day writes
-- all of that day's rows with one Version; readers use the latest Version of each day.
CREATE TABLE IF NOT EXISTS {{table:kpi_daily}} {{on_cluster}} (
    Day Date,
    Channel LowCardinality(String),
    Region LowCardinality(String),
    ErpInstance LowCardinality(String),
    Warehouse LowCardinality(String),
    CustomerTier LowCardinality(String),
    Priority LowCardinality(String),
    Orders UInt64,
    Closed UInt64,
    Touchless UInt64,
    PerfectEligible UInt64,
    Perfect UInt64,
    AllocationEligible UInt64,
    AllocationAccurate UInt64,
    CycleTimes Array(Float64),
    InvoiceLatencies Array(Float64),
    SlaEvaluated Map(LowCardinality(String), UInt64),
    SlaMet Map(LowCardinality(String), UInt64),
    ExceptionsOpened UInt64,
    ExceptionsResolved UInt64,
    ResolutionTimes Array(Float64),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (Day, Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority)
{{ttl:kpi_daily:toDateTime(Day)}};

{{distributed:kpi_daily:cityHash64(Day)}};

-- Per-system throughput, errors and latency by day (hop start day).
CREATE TABLE IF NOT EXISTS {{table:kpi_system_daily}} {{on_cluster}} (
    Day Date,
    System LowCardinality(String),
    SystemKind LowCardinality(String),
    Hops UInt64,
    Orders UInt64,
    Errors UInt64,
    Latencies Array(Float64),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (Day, System, SystemKind)
{{ttl:kpi_system_daily:toDateTime(Day)}};

{{distributed:kpi_system_daily:cityHash64(Day)}};

-- Every job run: start, duration, rows, watermark, error.
CREATE TABLE IF NOT EXISTS {{table:job_runs}} {{on_cluster}} (
    RunId UUID,
    Job LowCardinality(String),
    Mode LowCardinality(String),
    StartedAt DateTime64(3),
    DurationS Float64,
    Rows UInt64,
    WatermarkFrom Nullable(DateTime64(3)),
    WatermarkTo Nullable(DateTime64(3)),
    Status LowCardinality(String),
    Error String
) ENGINE = {{engine:MergeTree()}}
ORDER BY (Job, StartedAt)
{{ttl:job_runs:toDateTime(StartedAt)}};

{{distributed:job_runs:cityHash64(Job)}};

-- The arrival-time watermark of each incremental job (latest Version wins).
CREATE TABLE IF NOT EXISTS {{table:job_watermarks}} {{on_cluster}} (
    Job String,
    Watermark DateTime64(3),
    UpdatedAt DateTime64(3),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY Job;

{{distributed:job_watermarks:cityHash64(Job)}};
