-- One order's facts (latest version); StageDurationS is an ALIAS column, which `*` leaves out.
SELECT *, StageDurationS FROM order_facts FINAL WHERE OrderId = {order_id:String}
