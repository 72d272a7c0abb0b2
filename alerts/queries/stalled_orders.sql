-- Orders whose latest hop ended before {stalled_before} and is not a final stage, counted per
-- group. A segment's value is the latest non-empty value seen on the order's hops, so an order
-- allocated to a warehouse stays in that warehouse's group while it waits.
SELECT
    arraySlice(seg, 1, {n_group:UInt32}) AS grp,
    count() AS stalled,
    groupArray({max_orders:UInt32})(order_id) AS orders
FROM (
    SELECT
        order_id,
        max(hop_end) AS last_end,
        argMax(stage, hop_end) AS last_stage,
        arraySort(h -> h.1, groupArray((hop_end, attrs))) AS hops,
        arrayMap(i -> arrayLast(v -> v != '', arrayMap(h -> h.2[i], hops)), arrayEnumerate({attrs:Array(String)})) AS seg
    FROM (
        SELECT
            SpanAttributes['order.id'] AS order_id,
            SpanAttributes['order.stage'] AS stage,
            addNanoseconds(Timestamp, Duration) AS hop_end,
            arrayMap(a -> multiIf(SpanAttributes[a] != '', SpanAttributes[a], ResourceAttributes[a] != '', ResourceAttributes[a], a = 'system.instance', ServiceName, ''), {attrs:Array(String)}) AS attrs
        FROM otel_traces
        WHERE Timestamp >= {since:DateTime64(9)}
          AND Timestamp <= {until:DateTime64(9)}
          AND SpanAttributes['order.id'] != ''
          AND SpanAttributes['order.stage'] != ''
    )
    GROUP BY order_id
)
WHERE last_end <= {stalled_before:DateTime64(9)}
  AND NOT has({terminal:Array(String)}, last_stage)
  AND arrayAll((v, allowed) -> empty(allowed) OR has(allowed, v), seg, {allowed:Array(Array(String))})
GROUP BY grp
ORDER BY grp
LIMIT 10000
