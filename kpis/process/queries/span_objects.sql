-- The objects a hop span names: order_spans' MATERIALIZED column SpanObjects (defined in
-- storage/migrations/include/span_objects.sql, with the object model), (object id, qualifier = the
-- attribute that named it, object type). The export puts this text where it says SPAN_OBJECTS.
SpanObjects
