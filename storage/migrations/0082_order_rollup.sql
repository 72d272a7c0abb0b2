-- order_rollup replaces order_state (0080) as the order_facts job's per-order input (issue 17).
-- order_state kept AggregateFunction states (minMap, groupUniqArray, uniqExact, min of tuples):
-- reading them meant deserializing every state and merging it through a GROUP BY even for an order
-- with one row, 7-10 s for 110k orders. order_rollup keeps the same facts as plain columns merged
-- by SimpleAggregateFunction (include/order_rollup.sql), so the job reads it with FINAL: an order
-- whose row is already merged costs a plain column read, only orders with rows in several parts
-- are merged. The per-stage first start and last end are not kept (merging minMap/maxMap columns
-- cost more than deriving them from the hops, which are kept anyway). Derived data: kpis.state.rebuild fills it from order_spans (tower migrate runs it
-- once for a store that held spans before this migration).
DROP VIEW IF EXISTS {{db}}.`order_state_mv` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{db}}.`order_state` {{on_cluster}} SYNC;

DROP TABLE IF EXISTS {{table:order_state}} {{on_cluster}} SYNC;

CREATE TABLE IF NOT EXISTS {{table:order_rollup}} {{on_cluster}} (
    OrderId String CODEC(ZSTD(1)),
    FirstMs SimpleAggregateFunction(min, Int64),
    LastMs SimpleAggregateFunction(max, Int64),
    LastAt SimpleAggregateFunction(max, DateTime),
    -- each hop span once: (start ms, end ms, system, stage, span key)
    Hops SimpleAggregateFunction(groupUniqArrayArray, Array(Tuple(Int64, Int64, String, String, UInt64))),
    -- (start ms of the first span with the value, value); (max Int64, '') when none has it
    ChannelFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    RegionFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    ErpFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    WarehouseFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    TierFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    PriorityFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    CustomerFirst SimpleAggregateFunction(min, Tuple(Int64, String)),
    -- span keys (their count is the fact)
    Errors SimpleAggregateFunction(groupUniqArrayArray, Array(UInt64)),
    Touches SimpleAggregateFunction(groupUniqArrayArray, Array(UInt64)),
    FirstTouch SimpleAggregateFunction(min, Tuple(Int64, String, String, String)),
    Statuses SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    Exceptions SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    Allocations SimpleAggregateFunction(groupUniqArrayArray, Array(UInt64))
) ENGINE = {{engine:AggregatingMergeTree()}}
ORDER BY OrderId
-- no TTL: a row-level TTL would delete an order's partial rows (one per insert) before they merge
SETTINGS index_granularity = 1024;

{{distributed:order_rollup:cityHash64(OrderId)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.`order_rollup_mv` {{on_cluster}}
TO {{table:order_rollup}}
AS {{include:order_rollup:order_spans}};
