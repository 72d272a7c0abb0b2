-- Attribution: what arrived in (since, until], counted by what it can resolve, so that a run asks
-- only the questions that can have an answer (tracing/attribution.py).
SELECT
    countIf(notEmpty(OrderIds) AND notEmpty(StrongKeys)) AS key_late,
    countIf(empty(OrderIds) AND Scoped = 0 AND ParentSpanId != '') AS parent,
    countIf(notEmpty(OrderIds)) AS parent_late,
    countIf(empty(OrderIds) AND notEmpty(LinkTraceIds)) AS linked_from,
    countIf(notEmpty(OrderIds)) AS linked_from_late,
    countIf(empty(OrderIds)) AS link,
    countIf(notEmpty(OrderIds) AND notEmpty(LinkTraceIds)) AS link_late,
    countIf(notEmpty(OrderIds) AND ParentSpanId != '') AS child,
    countIf(empty(OrderIds)) AS child_late
FROM span_arrivals
WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)}
