-- One page of the audit log, newest first, with the total of matching rows (count() OVER ()).
-- Empty filters match everything; an action filter matches the action and its sub-actions
-- ('token' matches 'token.create' and 'token.revoke').
SELECT
    At AS at,
    Actor AS actor,
    Action AS action,
    Target AS target,
    Outcome AS outcome,
    Address AS address,
    Details AS details,
    toString(EventId) AS event_id,
    count() OVER () AS total
FROM audit_log
WHERE At >= {since:DateTime64(3)} AND At < {until:DateTime64(3)}
  AND ({actor:String} = '' OR Actor = {actor:String})
  AND ({action:String} = '' OR Action = {action:String} OR startsWith(Action, concat({action:String}, '.')))
  AND ({outcome:String} = '' OR Outcome = {outcome:String})
ORDER BY At DESC, EventId
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
