-- OCEL 2.0 order objects of the filter's orders in one range of order ids (the RANGE placeholder;
-- the export reads range after range: bounded memory): segment attributes; relationships to every
-- object their hops name (order -> shipment, invoice, customer PO, ...). export_named_objects.sql
-- has the others.
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
WHERE Stage != '' AND OrderId IN filter_orders /*RANGE*/
GROUP BY OrderId
