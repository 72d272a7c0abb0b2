-- Rebuild order_exceptions for the selected orders: one row per order and exception type, from the
-- exception signals of the order's spans and span events (exception_signals, kept by a view as rows
-- reach order_spans; each span or event once: FINAL), merged with what people did
-- (exception_actions: last assign sets the owner, a resolve closes it unless spans reopened it
-- later). Opened = first sign of the exception; resolved = when the latest outcome is a resolution.
-- Only the order's own attributed spans count (tracing/attribution.py): a sibling's EDI mapping
-- exception in the same file is the sibling's.
INSERT INTO order_exceptions
WITH
    -- touched and signals are read more than once: MATERIALIZED computes each once (kpis/jobs.py
    -- inline_ctes)
    touched AS MATERIALIZED (
        SELECT OrderId FROM exception_signals
        WHERE (ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)})
           OR ({from:DateTime64(3)} < {to:DateTime64(3)} AND At >= {from:DateTime64(3)} AND At < {to:DateTime64(3)})
        UNION DISTINCT
        SELECT OrderId FROM exception_actions WHERE At > {since:DateTime64(3)} AND At <= {until:DateTime64(3)}
        UNION DISTINCT
        SELECT OrderId FROM order_facts
        WHERE ExceptionCount > 0 AND UpdatedAt > {chain_since:DateTime64(3)} AND UpdatedAt <= {until:DateTime64(3)}
        UNION DISTINCT
        SELECT arrayJoin({orders:Array(String)}) AS OrderId
    ),
    signals AS MATERIALIZED (
        SELECT OrderId, ExceptionType, Outcome, At, System, Stage, User
        FROM exception_signals FINAL
        WHERE {all:UInt8} = 1 OR OrderId IN touched
    ),
    x AS (
        SELECT
            OrderId,
            ExceptionType,
            min(At) AS opened,
            -- signals at the same instant are ordered by their values too, so the row does not
            -- depend on which part or thread the engine read first (a fact is a function of the
            -- distinct spans): the first system and stage are one signal's, the smallest
            argMin((System, Stage), (At, System, Stage)) AS first_where,
            first_where.1 AS system,
            first_where.2 AS stage,
            -- the latest signal (a resolution before an opening at the same instant), its outcome and who
            argMax((Outcome, if(User != '', User, System)),
                   (At, has({resolved_outcomes:Array(String)}, Outcome), Outcome, if(User != '', User, System))) AS last_sig,
            last_sig.1 AS last_outcome,
            max(At) AS last_at,
            last_sig.2 AS last_by,
            maxIf(At, NOT has({resolved_outcomes:Array(String)}, Outcome)) AS last_open_at
        FROM signals
        GROUP BY OrderId, ExceptionType
    ),
    a AS (
        SELECT
            OrderId,
            ExceptionType,
            argMaxIf(Owner, (At, Owner), Action = 'assign') AS owner,
            maxIf(At, Action = 'resolve') AS resolved_at,
            argMaxIf(Actor, (At, Actor), Action = 'resolve') AS resolved_by,
            maxIf(At, Action = 'reopen') AS reopened_at,
            countIf(Action = 'comment') AS comments
        FROM exception_actions
        WHERE {all:UInt8} = 1 OR OrderId IN touched
        GROUP BY OrderId, ExceptionType
    ),
    f AS (
        -- the segment of each order with signals (the join's build side: every order's facts made
        -- a hash table of 1M rows for ~50k orders with exceptions, ~40% of the query's CPU)
        SELECT OrderId, Channel, Region, ErpInstance, Warehouse, CustomerTier, Priority
        FROM order_facts FINAL
        WHERE ({all:UInt8} = 1 OR OrderId IN touched) AND OrderId IN (SELECT OrderId FROM signals)
    )
SELECT
    x.OrderId AS OrderId,
    x.ExceptionType AS ExceptionType,
    x.system AS System,
    x.stage AS Stage,
    toDateTime64(x.opened, 3, 'UTC') AS OpenedAt,
    multiIf(has({resolved_outcomes:Array(String)}, x.last_outcome), toDateTime64(x.last_at, 3, 'UTC'),
            a.resolved_at > toDateTime64(x.last_open_at, 3, 'UTC') AND a.resolved_at > a.reopened_at, a.resolved_at,
            NULL) AS ResolvedAt,
    multiIf(has({resolved_outcomes:Array(String)}, x.last_outcome), x.last_by,
            ResolvedAt IS NOT NULL, a.resolved_by, '') AS ResolvedBy,
    if(ResolvedAt IS NULL, NULL, greatest(toUnixTimestamp64Milli(ResolvedAt) - toUnixTimestamp64Milli(OpenedAt), 0) / 1000.0) AS ResolutionS,
    if(ResolvedAt IS NULL, 'open', 'resolved') AS Status,
    a.owner AS Owner,
    a.comments AS Comments,
    f.Channel AS Channel,
    f.Region AS Region,
    f.ErpInstance AS ErpInstance,
    f.Warehouse AS Warehouse,
    f.CustomerTier AS CustomerTier,
    f.Priority AS Priority,
    now64(3) AS UpdatedAt,
    {version:UInt64} AS Version
FROM x
LEFT JOIN a ON a.OrderId = x.OrderId AND a.ExceptionType = x.ExceptionType
LEFT JOIN f ON f.OrderId = x.OrderId
SETTINGS join_use_nulls = 0, optimize_on_insert = 0
