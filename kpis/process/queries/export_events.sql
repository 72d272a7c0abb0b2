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
    -- the attributes, one column each, named as in the export (LowCardinality where the hop is: a
    -- value formatted from one of them is formatted once per distinct value)
    s.Stage AS stage,
    s.System AS system,
    s.SystemKind AS system_kind,
    s.SpanName AS span_name,
    s.OrderStatus AS status,
    s.StatusCode AS status_code,
    if(s.ManualTouch = 1, 'true', 'false') AS manual_touch,
    s.User AS user,
    s.ExceptionType AS exception_type,
    s.ExceptionOutcome AS exception_outcome,
    toString(round(s.Duration / 1e9, 6)) AS duration_s,
    arrayFilter(a -> a.2 != '', [
        ('stage', toString(stage)),
        ('system', toString(system)),
        ('system_kind', toString(system_kind)),
        ('span_name', toString(span_name)),
        ('status', toString(status)),
        ('status_code', toString(status_code)),
        ('manual_touch', manual_touch),
        ('user', user),
        ('exception_type', toString(exception_type)),
        ('exception_outcome', toString(exception_outcome)),
        ('duration_s', duration_s)
    ]) AS attributes,
    arrayConcat(s.links, arrayMap(o -> (o.1, o.2), s.objs)) AS relationships
FROM (/*EVENT_SPANS*/) AS s
