-- One order's facts (latest version): `*` leaves out the ALIAS columns (StageEnd, StageDurationS,
-- HandoffFrom, HandoffTo: storage/migrations/0097, 0099), named here instead of the stored columns
-- they are computed from; SlaSettledBy is the KPI jobs' bookkeeping (0098).
SELECT * EXCEPT (StageEndAt, HopSystems, SlaSettledBy), StageEnd, StageDurationS, HandoffFrom, HandoffTo
FROM order_facts FINAL
WHERE OrderId = {order_id:String}
