-- The objects a hop span names (OCEL 2.0 object model, docs/conventions.md "Process mining"):
-- (object id, qualifier = the attribute that named it, object type); ids are "<type>:<key>". The
-- expression of order_spans' MATERIALIZED column SpanObjects (0092_order_spans_span_objects.sql),
-- which the process exports read (kpis/process/queries). Part of that migration's checksum: a
-- change is a new migration (MODIFY COLUMN), not an edit of this file.
arrayConcat(
    arrayFilter(o -> o.1 != '', [
        (if(SpanAttributes['order.customer_po'] != '', concat('customer_po:', SpanAttributes['order.customer_po']), ''), 'order.customer_po', 'customer_po'),
        (if(SpanAttributes['shipment.id'] != '', concat('shipment:', SpanAttributes['shipment.id']), ''), 'shipment.id', 'shipment'),
        (if(SpanAttributes['invoice.id'] != '', concat('invoice:', SpanAttributes['invoice.id']), ''), 'invoice.id', 'invoice'),
        (if(SpanAttributes['order.batch.id'] != '', concat('batch:', SpanAttributes['order.batch.id']), ''), 'order.batch.id', 'batch'),
        (if(SpanAttributes['edi.interchange_control_number'] != '',
            concat('edi_interchange:', if(SpanAttributes['edi.sender_id'] != '', concat(SpanAttributes['edi.sender_id'], ':'), ''),
                   SpanAttributes['edi.interchange_control_number']), ''),
         'edi.interchange_control_number', 'edi_interchange'),
        (if(SpanAttributes['edi.transaction_set_control_number'] != '',
            concat('edi_transaction_set:', if(SpanAttributes['edi.sender_id'] != '', concat(SpanAttributes['edi.sender_id'], ':'), ''),
                   SpanAttributes['edi.interchange_control_number'], '/', SpanAttributes['edi.transaction_set_control_number']), ''),
         'edi.transaction_set_control_number', 'edi_transaction_set')
    ]),
    arrayMap(t -> (concat('tracking_number:', t), 'shipment.tracking_number', 'tracking_number'),
             arrayFilter(t -> t != '', if(startsWith(SpanAttributes['shipment.tracking_number'], '['),
                                          JSONExtract(SpanAttributes['shipment.tracking_number'], 'Array(String)'),
                                          [SpanAttributes['shipment.tracking_number']])))
)
