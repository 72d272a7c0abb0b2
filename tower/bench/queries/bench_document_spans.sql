-- How many of the generated hop spans name each kind of document (the objects an OCEL export
-- derives from spans besides the orders): the bench's data is shaped like real traffic.
SELECT
    countIf(SpanAttributes['order.customer_po'] != '') AS customer_po,
    countIf(SpanAttributes['edi.interchange_control_number'] != '') AS edi,
    countIf(SpanAttributes['shipment.id'] != '') AS shipment,
    countIf(SpanAttributes['shipment.tracking_number'] != '') AS tracking_number,
    countIf(SpanAttributes['invoice.id'] != '') AS invoice
FROM order_spans
