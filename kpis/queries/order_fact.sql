-- One order's facts (latest version).
SELECT * FROM order_facts FINAL WHERE OrderId = {order_id:String}
