-- XES (IEEE 1849) traces of the filter's orders in one range of order ids (the RANGE placeholder;
-- the export reads range after range: bounded memory), one line per order, formatted here: the
-- order's hops (each span once) in the order the process map uses (start, end, stage, system,
-- span), every value XML-escaped (control characters XML cannot carry become U+FFFD; tab, newline,
-- carriage return and backslash character references, so the TabSeparated stream escapes nothing).
WITH filter_orders AS (SELECT OrderId FROM (/*CASES*/))
SELECT concat(
    '<trace><string key="concept:name" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(OrderId, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
    arrayStringConcat(arrayMap(e -> concat(
        '<event><string key="concept:name" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(concat(e.3, ' @ ', e.4), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
        '<date key="time:timestamp" value="', e.6, '"/>',
        '<string key="org:resource" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(e.4, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
        '<string key="stage" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(e.3, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
        '<string key="status" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(e.7, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
        '<boolean key="manual_touch" value="', if(e.8 = 1, 'true', 'false'), '"/>',
        '<string key="exception_type" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(e.9, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
        '<string key="span_id" value="', replaceAll(replaceAll(replaceAll(replaceAll(replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(e.10, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '\xef\xbf\xbd'), '\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;'), '"/>',
        '</event>'),
        arraySort(arrayDistinct(groupArray((
            toUnixTimestamp64Nano(Timestamp), toUnixTimestamp64Nano(Timestamp) + toInt64(Duration),
            toString(Stage), toString(System), cityHash64(TraceId, SpanId),
            replaceOne(toString(toDateTime64(Timestamp, 6, 'UTC')), ' ', 'T') || '+00:00',
            toString(OrderStatus), ManualTouch, toString(ExceptionType), concat(TraceId, ':', SpanId))))))),
    '</trace>')
FROM order_spans FINAL
WHERE Stage != '' AND OrderId IN filter_orders /*RANGE*/
GROUP BY OrderId
