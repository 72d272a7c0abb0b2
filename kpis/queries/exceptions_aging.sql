-- Open exceptions per aging bucket (bucket i = age below bounds[i]; the last bucket is the rest).
SELECT
    arrayFirstIndex(b -> age_s < b, arrayConcat({bounds:Array(Float64)}, [inf])) AS bucket,
    count() AS exceptions
FROM (
    SELECT greatest(dateDiff('millisecond', OpenedAt, {now:DateTime64(3)}), 0) / 1000.0 AS age_s, *
    FROM order_exceptions FINAL
    WHERE Status = 'open'
      AND ({exception_type:String} = '' OR ExceptionType = {exception_type:String})
      AND ({system:String} = '' OR System = {system:String})
      AND ({owner:String} = '' OR Owner = {owner:String})
      AND ({order_id:String} = '' OR OrderId = {order_id:String})
      AND OpenedAt >= {since:DateTime64(3)}
  AND ({channel:String} = '' OR Channel = {channel:String})
  AND ({region:String} = '' OR Region = {region:String})
  AND ({erp_instance:String} = '' OR ErpInstance = {erp_instance:String})
  AND ({warehouse:String} = '' OR Warehouse = {warehouse:String})
  AND ({customer_tier:String} = '' OR CustomerTier = {customer_tier:String})
  AND ({priority:String} = '' OR Priority = {priority:String})
)
GROUP BY bucket
ORDER BY bucket
