-- Which rows of sla_results are breached or at risk as of {now}: completed late, open past due, or
-- open and due within the SLA's warning window (shared like sla_breach_columns.sql).
(State = 'breached' OR (State = 'open' AND OrderStatus = 'open'
                        AND DueAt <= {now:DateTime64(3)} + toIntervalMillisecond(toInt64(WarnS * 1000))))
AND has({slas:Array(String)}, Sla)
