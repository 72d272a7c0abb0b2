-- The first capture day and the last activity day of the orders an sla_results run evaluates: in
-- an incremental run ({incremental} = 1) those whose facts changed in (chain_since, until] (the
-- minmax index on UpdatedAt skips the rest), otherwise every order.
SELECT min(toDate(CaptureAt)), max(toDate(LastActivityAt))
FROM order_facts
WHERE {incremental:UInt8} = 0
   OR (UpdatedAt > {chain_since:DateTime64(3)} AND UpdatedAt <= {until:DateTime64(3)})
