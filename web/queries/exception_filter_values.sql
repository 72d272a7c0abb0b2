-- Exception types, systems and owners present in the exceptions table, for the queue's drop-downs
-- (no FINAL: only the distinct values matter).
SELECT
    arraySort(groupUniqArray(1000)(ExceptionType)) AS exception_type,
    arraySort(groupUniqArrayIf(1000)(System, System != '')) AS system,
    arraySort(groupUniqArrayIf(1000)(Owner, Owner != '')) AS owner
FROM order_exceptions
