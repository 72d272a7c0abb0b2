-- The notification log, newest first.
SELECT At, Receiver, Integration, GroupKey, Status, Firing, Resolved, Outcome, Attempts, Retryable, Error, Target
FROM alert_notifications
WHERE ({receiver:String} = '' OR Receiver = {receiver:String})
ORDER BY At DESC
LIMIT {limit:UInt32}
