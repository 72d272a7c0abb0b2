-- Orders whose latest hop ended before {stalled_before} and is not a final stage, counted per
-- group. An order's hops are its attributed spans with a stage (order_spans, each span once:
-- FINAL, so a re-sent span counts once; a shared span such as an EDI file counts for each of its
-- orders). A segment's value is the latest non-empty value seen on the order's hops, so an order
-- allocated to a warehouse stays in that warehouse's group while it waits. Candidates are found
-- first from the hop ends alone; segments are read only for them. The orders listed per group are
-- the longest-stalled first (then by id), so a notification names the same orders every time.
WITH candidates AS (
    SELECT OrderId AS order_id
    FROM order_spans FINAL
    WHERE Timestamp >= {since:DateTime64(9)}
      AND Timestamp <= {until:DateTime64(9)}
      AND Stage != ''
    GROUP BY order_id
    HAVING max(addNanoseconds(Timestamp, Duration)) <= {stalled_before:DateTime64(9)}
       AND NOT has({terminal:Array(String)}, argMax(Stage, addNanoseconds(Timestamp, Duration)))
)
SELECT
    arraySlice(seg, 1, {n_group:UInt32}) AS grp,
    count() AS stalled,
    arrayMap(o -> o.2, groupArraySorted({max_orders:UInt32})((last_end, order_id))) AS orders
FROM (
    SELECT
        order_id,
        arraySort(h -> h.1, groupArray((hop_end, attrs))) AS hops,
        max(hop_end) AS last_end,
        arrayMap(i -> arrayLast(v -> v != '', arrayMap(h -> h.2[i], hops)), arrayEnumerate({attrs:Array(String)})) AS seg
    FROM (
        SELECT
            OrderId AS order_id,
            addNanoseconds(Timestamp, Duration) AS hop_end,
            arrayMap(a -> multiIf(SpanAttributes[a] != '', SpanAttributes[a], ResourceAttributes[a] != '', ResourceAttributes[a], a = 'system.instance', ServiceName, ''), {attrs:Array(String)}) AS attrs
        FROM order_spans FINAL
        WHERE Timestamp >= {since:DateTime64(9)}
          AND Timestamp <= {until:DateTime64(9)}
          AND Stage != ''
          AND OrderId IN candidates
    )
    GROUP BY order_id
)
WHERE arrayAll((v, allowed) -> empty(allowed) OR has(allowed, v), seg, {allowed:Array(Array(String))})
GROUP BY grp
ORDER BY grp
LIMIT 10000
