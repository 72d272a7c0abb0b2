-- OCEL 2.0 events of the filter's orders in one range of order ids (the RANGE placeholder; the
-- export reads range after range: bounded memory): one per hop span (each span once, FINAL),
-- whatever the number of its orders. The EVENT_SPANS placeholder is the range's hop spans, each
-- with the orders it relates to (links: (object id, qualifier)): event_spans_shared.sql, or, for a
-- range none of whose spans reaches its order other than by naming it, event_spans_own.sql (the
-- same rows without the look-up of shared spans). Empty attribute values are left out. Rows are
-- in no global order (bounded memory).
SELECT
    concat(s.TraceId, ':', s.SpanId) AS id,
    concat(s.Stage, ' @ ', s.System) AS type,
    s.Timestamp AS at,
    replaceOne(toString(toDateTime64(s.Timestamp, 6, 'UTC')), ' ', 'T') || 'Z' AS time,
    arrayFilter(a -> a.2 != '', [
        ('stage', toString(s.Stage)),
        ('system', toString(s.System)),
        ('system_kind', toString(s.SystemKind)),
        ('span_name', toString(s.SpanName)),
        ('status', toString(s.OrderStatus)),
        ('status_code', toString(s.StatusCode)),
        ('manual_touch', if(s.ManualTouch = 1, 'true', 'false')),
        ('user', s.User),
        ('exception_type', toString(s.ExceptionType)),
        ('exception_outcome', toString(s.ExceptionOutcome)),
        ('duration_s', toString(round(s.Duration / 1e9, 6)))
    ]) AS attributes,
    arrayConcat(s.links, arrayMap(o -> (o.1, o.2), s.objs)) AS relationships
FROM (/*EVENT_SPANS*/) AS s
