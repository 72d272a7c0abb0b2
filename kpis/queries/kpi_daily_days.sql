-- The days a kpi_daily run recomputes (kpi_daily.sql's {days}): the capture days of orders whose
-- facts or SLA results changed in (chain_since, until], the opening days of exceptions that changed,
-- and the days in [from, to).
SELECT Day FROM (
        -- the capture days of changed orders, old versions included (a late capture span can
        -- move an order to another day: both days are recomputed)
        SELECT DISTINCT toDate(CaptureAt) AS Day FROM order_facts
        WHERE OrderId IN (SELECT OrderId FROM order_facts
                          WHERE UpdatedAt > {chain_since:DateTime64(3)} AND UpdatedAt <= {until:DateTime64(3)})
        UNION DISTINCT
        SELECT DISTINCT toDate(CaptureAt) FROM sla_results
        WHERE UpdatedAt > {chain_since:DateTime64(3)} AND UpdatedAt <= {until:DateTime64(3)}
        UNION DISTINCT
        -- the opening days of changed exceptions, old versions included (a late span can move an
        -- exception's opening to another day: both days are recomputed)
        SELECT DISTINCT toDate(OpenedAt) FROM order_exceptions
        WHERE OrderId IN (SELECT OrderId FROM order_exceptions
                          WHERE UpdatedAt > {chain_since:DateTime64(3)} AND UpdatedAt <= {until:DateTime64(3)})
        UNION DISTINCT
        SELECT arrayJoin(arrayMap(d -> toDate({from:DateTime64(3)}) + d,
            range(toUInt32(greatest(dateDiff('day', toDate({from:DateTime64(3)}), toDate({to:DateTime64(3)})), 0)))))
)
ORDER BY Day
