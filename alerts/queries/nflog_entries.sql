-- Last successful notification per receiver integration and group.
SELECT Receiver, Integration, GroupKey, Firing, Resolved, Acked, SentAt
FROM alert_nflog FINAL
WHERE SentAt >= {since:DateTime64(3)}
