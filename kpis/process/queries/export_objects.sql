-- OCEL 2.0 objects of the filter's orders: the orders (segment attributes; relationships to every
-- object their hops name: order -> shipment, invoice, customer PO, ...), then every object those
-- hops name (an EDI interchange relates to its transaction sets).
WITH filter_orders AS (SELECT OrderId FROM (/*CASES*/))
SELECT
    concat('order:', OrderId) AS id,
    'order' AS type,
    [
        ('channel', '1970-01-01T00:00:00Z', toString(argMinIf(Channel, Timestamp, Channel != ''))),
        ('region', '1970-01-01T00:00:00Z', toString(argMinIf(Region, Timestamp, Region != ''))),
        ('erp', '1970-01-01T00:00:00Z', toString(argMinIf(System, Timestamp, SystemKind = 'erp'))),
        ('warehouse', '1970-01-01T00:00:00Z', toString(argMinIf(Warehouse, Timestamp, Warehouse != ''))),
        ('customer_tier', '1970-01-01T00:00:00Z', toString(argMinIf(CustomerTier, Timestamp, CustomerTier != '')))
    ] AS attributes,
    arrayMap(o -> (o.1, multiIf(o.3 = 'customer_po', 'placed as', o.3 = 'shipment', 'ships in',
                                 o.3 = 'tracking_number', 'tracked by', o.3 = 'invoice', 'billed by',
                                 o.3 = 'batch', 'in batch', o.3 = 'edi_interchange', 'sent in', 'sent as')),
             arraySort(arrayDistinct(arrayFlatten(groupArray(/*SPAN_OBJECTS*/))))) AS relationships
FROM order_spans FINAL
WHERE Stage != '' AND OrderId IN filter_orders
GROUP BY OrderId
UNION ALL
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
SETTINGS max_bytes_before_external_group_by = 200000000
