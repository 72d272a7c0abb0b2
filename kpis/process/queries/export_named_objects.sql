-- OCEL 2.0 objects the hops of the filter's orders name (shipments, invoices, POs, tracking numbers,
-- batches, EDI interchanges and transaction sets), each once, whichever orders name it: one
-- aggregation over every order of the filter, which spills to disk past 50 MB (bounded memory; the
-- export runs it on one thread, see ocel._NAMED_SETTINGS: with two, each thread's spills, and the
-- parts to merge, multiply). The filter's orders are joined by merging two streams sorted by order
-- id (order_spans' and order_paths' sorting key) rather than looked up in a set built of all of them
-- (IN: a hash set of every order id, ~160 MiB a million orders).
-- An EDI interchange relates to its transaction sets, gathered by groupArrayIf, whose state is empty
-- for every other object (groupUniqArrayIf's holds a small hash set for each: 1M orders, the query's
-- peak 122 -> 102 MiB).
SELECT
    o.1 AS id,
    o.3 AS type,
    CAST([], 'Array(Tuple(String, String, String))') AS attributes,
    arrayMap(t -> (t, 'contains'), arraySort(arrayDistinct(groupArrayIf(ts, ts != '' AND o.3 = 'edi_interchange')))) AS relationships
FROM (
    SELECT objs, arrayFirst(x -> x.3 = 'edi_transaction_set', objs).1 AS ts
    FROM (
        SELECT /*SPAN_OBJECTS*/ AS objs
        FROM order_spans AS s FINAL
        INNER JOIN (SELECT OrderId FROM (/*CASES*/)) AS c ON s.OrderId = c.OrderId
        WHERE s.Stage != ''
    )
)
ARRAY JOIN objs AS o
GROUP BY id, type
SETTINGS max_bytes_before_external_group_by = 50000000, join_algorithm = 'full_sorting_merge'
