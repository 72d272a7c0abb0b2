-- Fragments of otlp_insert.sql: OTLP attribute values rendered as the clickhouseexporter stores
-- them (pdata's AsString: strings as they are, bools true/false, ints in decimal, doubles as Go's
-- strconv.FormatFloat(v, 'f', -1, 64), bytes base64, arrays and maps as JSON), with the collector's
-- limits (bound parameters) applied as collector/convert.py applies them: the same stored values.
-- Each fragment is "-- fragment: NAME" and its SQL up to the next one; {{NAME:expr}} in the insert
-- or in a fragment is replaced by the fragment with ARG replaced by (expr). Expanded once at load.
-- arrayMap(f, [a], [b])[1] binds local names a and b (ClickHouse has no let).

-- fragment: goplain
-- A finite double's shortest round-trip digits without an exponent (Go's 'f' with precision -1).
if(position(toString(ARG), 'e') = 0,
   toString(ARG),
   concat(if(ARG < 0, '-', ''),
          arrayMap((digits, point) -> multiIf(
                       point >= length(digits), concat(digits, repeat('0', toUInt32(point - length(digits)))),
                       point <= 0, concat('0.', repeat('0', toUInt32(-point)), digits),
                       concat(substring(digits, 1, toUInt32(point)), '.', substring(digits, toUInt32(point + 1)))),
                   [replaceAll(splitByChar('e', toString(abs(ARG)))[1], '.', '')],
                   [toInt32(if(position(splitByChar('e', toString(abs(ARG)))[1], '.') = 0,
                               length(splitByChar('e', toString(abs(ARG)))[1]),
                               position(splitByChar('e', toString(abs(ARG)))[1], '.') - 1))
                    + toInt32(replaceAll(splitByChar('e', toString(abs(ARG)))[2], '+', ''))])[1]))

-- fragment: godouble
-- A double as pdata's AsString writes it: NaN, +Inf, -Inf or the plain shortest digits.
multiIf(isNaN(ARG), 'NaN', isInfinite(ARG), if(ARG > 0, '+Inf', '-Inf'), {{goplain:ARG}})

-- fragment: jsonstring
-- A string as a JSON string the way orjson writes it: only ", \ and control characters escaped.
if(match(ARG, '[\\x00-\\x1f"\\\\]'),
   concat('"', {{jsonescape:ARG}}, '"'),
   concat('"', ARG, '"'))

-- fragment: jsondouble
-- A double inside a JSON array or map: integral values below 1e21 with Go's 'f' format (2, not
-- 2.0; 1e20 as its 21 digits), like Go's encoding/json; NaN and infinities as strings.
multiIf(NOT isFinite(ARG), concat('"', {{godouble:ARG}}, '"'),
        ARG = floor(ARG) AND abs(ARG) < 1e21, {{goplain:ARG}},
        toString(ARG))

-- fragment: json
-- An array or map element (a scalar AnyValue) as JSON.
multiIf(ARG.value = 'string', {{jsonstring:ARG.string_value}},
        ARG.value = 'bool', if(ARG.bool_value, 'true', 'false'),
        ARG.value = 'int', toString(ARG.int_value),
        ARG.value = 'double', {{jsondouble:ARG.double_value}},
        ARG.value = 'bytes', concat('"', base64Encode(ARG.bytes_value), '"'),
        'null')

-- fragment: text
-- An attribute value (AnyValue) as text, before the value length limit.
multiIf(ARG.value = 'string', ARG.string_value,
        ARG.value = 'bool', if(ARG.bool_value, 'true', 'false'),
        ARG.value = 'int', toString(ARG.int_value),
        ARG.value = 'double', {{godouble:ARG.double_value}},
        ARG.value = 'bytes', base64Encode(ARG.bytes_value),
        ARG.value = 'array',
            concat('[', arrayStringConcat(arrayMap(item -> {{json:item}},
                        arraySlice(ARG.array_value.values, 1, {max_array_length:UInt32})), ','), ']'),
        ARG.value = 'kvlist',
            arrayMap((keys, texts) -> concat('{', arrayStringConcat(arrayMap((key, item) -> concat(key, ':', item),
                                                    {{firstkeys:keys}}, {{lastvalues:keys,texts}}), ','), '}'),
                     [arrayMap(kv -> {{jsonstring:kv.key}},
                               arraySlice(ARG.kvlist_value.values, 1, {max_attributes:UInt32}))],
                     [arrayMap(kv -> {{json:kv.value}},
                               arraySlice(ARG.kvlist_value.values, 1, {max_attributes:UInt32}))])[1],
        '')

-- fragment: firstkeys
-- Keys at their first position (a dict keeps the first position of a repeated key).
if(length(arrayDistinct(ARG)) = length(ARG), ARG,
   arrayFilter((key, position) -> indexOf(ARG, key) = position, ARG, arrayEnumerate(ARG)))

-- fragment: attributes
-- A list of KeyValue as the Map column: cut to max_attributes, keys cut, values rendered and cut,
-- a repeated key keeping its first position and its last value.
arrayMap((keys, texts) -> mapFromArrays({{firstkeys:keys}}, {{lastvalues:keys,texts}}),
         [arrayMap(kv -> leftUTF8(kv.key, {max_attribute_key_length:UInt32}),
                   arraySlice(ARG, 1, {max_attributes:UInt32}))],
         [arrayMap(kv -> leftUTF8({{text:kv.value}}, {max_attribute_value_length:UInt32}),
                   arraySlice(ARG, 1, {max_attributes:UInt32}))])[1]

-- fragment: lastvalues
-- ARG2 (values) aligned with {{firstkeys:ARG1}}: each key's last value.
if(length(arrayDistinct(ARG1)) = length(ARG1), ARG2,
   arrayMap(key -> ARG2[length(ARG1) + 1 - indexOf(arrayReverse(ARG1), key)], {{firstkeys:ARG1}}))

-- fragment: jsonescape
-- The escapes orjson writes: \\ and \" first, then \b \t \n \f \r and \u00xx (lower-case hex).
replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll(ARG, '\\', '\\\\'), '"', '\\"'), char(0), '\\u0000'), char(1), '\\u0001'), char(2), '\\u0002'), char(3), '\\u0003'), char(4), '\\u0004'), char(5), '\\u0005'), char(6), '\\u0006'), char(7), '\\u0007'), char(8), '\\b'), char(9), '\\t'), char(10), '\\n'), char(11), '\\u000b'), char(12), '\\f'), char(13), '\\r'), char(14), '\\u000e'), char(15), '\\u000f'), char(16), '\\u0010'), char(17), '\\u0011'), char(18), '\\u0012'), char(19), '\\u0013'), char(20), '\\u0014'), char(21), '\\u0015'), char(22), '\\u0016'), char(23), '\\u0017'), char(24), '\\u0018'), char(25), '\\u0019'), char(26), '\\u001a'), char(27), '\\u001b'), char(28), '\\u001c'), char(29), '\\u001d'), char(30), '\\u001e'), char(31), '\\u001f')
