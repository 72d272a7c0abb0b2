-- Rule 4, link, late: an arriving span naming orders links to spans that arrived before it (kept by
-- the filter only when the linked span names no order).
SELECT lt, ls, OrderId, 'link', toUInt8(3)
FROM span_arrivals ARRAY JOIN OrderIds AS OrderId ARRAY JOIN LinkTraceIds AS lt, LinkSpanIds AS ls
WHERE ArrivedAt > {since:DateTime64(3)} AND ArrivedAt <= {until:DateTime64(3)} AND lt != '' AND ls != ''
