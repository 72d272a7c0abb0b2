SELECT count() FROM order_exceptions FINAL WHERE OrderId = {order_id:String} AND ExceptionType = {exception_type:String}
