-- The audit trail of one exception (or all of an order's when exception_type is '').
SELECT toString(ActionId) AS action_id, OrderId AS order_id, ExceptionType AS exception_type, Action AS action,
       Actor AS actor, Owner AS owner, Note AS note, At AS at
FROM exception_actions
WHERE OrderId = {order_id:String} AND ({exception_type:String} = '' OR ExceptionType = {exception_type:String})
ORDER BY At, action_id
