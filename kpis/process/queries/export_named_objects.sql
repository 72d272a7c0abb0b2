-- OCEL 2.0 objects the hops of the filter's orders name (shipments, invoices, POs, tracking numbers,
-- batches, EDI interchanges and transaction sets), each once, whichever orders name it: one
-- aggregation over every order of the filter, which spills to disk past 50 MB (bounded memory).
-- An EDI interchange relates to its transaction sets.
WITH filter_orders AS (SELECT OrderId FROM (/*CASES*/))
SELECT
    o.1 AS id,
    o.3 AS type,
    CAST([], 'Array(Tuple(String, String, String))') AS attributes,
    arrayMap(t -> (t, 'contains'), arraySort(groupUniqArrayIf(ts, ts != '' AND o.3 = 'edi_interchange'))) AS relationships
FROM (
    SELECT objs, arrayFirst(x -> x.3 = 'edi_transaction_set', objs).1 AS ts
    FROM (
        SELECT /*SPAN_OBJECTS*/ AS objs
        FROM order_spans FINAL
        WHERE Stage != '' AND OrderId IN filter_orders
    )
)
ARRAY JOIN objs AS o
GROUP BY id, type
SETTINGS max_bytes_before_external_group_by = 50000000
