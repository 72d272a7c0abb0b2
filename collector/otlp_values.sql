-- Fragments of otlp_insert.sql: OTLP attribute values rendered as the clickhouseexporter stores
-- them (pdata's AsString: strings as they are, bools true/false, ints in decimal, doubles as Go's
-- strconv.FormatFloat(v, 'f', -1, 64), bytes base64), with the collector's limits (bound
-- parameters) applied as collector/convert.py applies them: the same stored values. Array and map
-- values never get here (the receivers have the Python converter render those requests as text).
-- Each fragment is "-- fragment: NAME" and its SQL up to the next one; {{NAME:expr}} (or
-- {{NAME:a,b}} for ARG1, ARG2) in the insert or a fragment is replaced by the fragment with ARG
-- replaced by (expr). Expanded once at load. The expression is kept small: ClickHouse analyses it
-- at every insert.

-- fragment: godouble
-- A double as Go's FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent
-- (toString writes d.ddde21 or d.ddde-7 beyond 1e21 and below 1e-6); NaN, +Inf, -Inf.
multiIf(isNaN(ARG), 'NaN',
        isInfinite(ARG), if(ARG > 0, '+Inf', '-Inf'),
        position(toString(ARG), 'e') = 0, toString(ARG),
        position(toString(ARG), 'e-') > 0,
        concat(if(ARG < 0, '-0.', '0.'),
               repeat('0', toUInt32(toInt32(substring(toString(ARG), position(toString(ARG), 'e') + 2)) - 1)),
               replaceOne(replaceOne(substring(toString(ARG), 1, position(toString(ARG), 'e') - 1), '-', ''), '.', '')),
        concat(replaceOne(substring(toString(ARG), 1, position(toString(ARG), 'e') - 1), '.', ''),
               repeat('0', toUInt32(toInt32(replaceOne(substring(toString(ARG), position(toString(ARG), 'e') + 1), '+', ''))
                                    - length(replaceOne(replaceOne(substring(toString(ARG), 1, position(toString(ARG), 'e') - 1), '-', ''), '.', '')) + 1))))

-- fragment: text
-- An attribute value (a scalar AnyValue) as text, before the value length limit.
multiIf(ARG.value = 'string', ARG.string_value,
        ARG.value = 'bool', if(ARG.bool_value, 'true', 'false'),
        ARG.value = 'int', toString(ARG.int_value),
        ARG.value = 'double', {{godouble:ARG.double_value}},
        ARG.value = 'bytes', base64Encode(ARG.bytes_value),
        '')

-- fragment: attributes
-- A list of KeyValue as the Map column: cut to max_attributes, keys cut, values rendered and cut;
-- a repeated key keeps its first position and its last value (as a dict does).
arrayMap((keys, texts) -> mapFromArrays(
             if(length(arrayDistinct(keys)) = length(keys), keys,
                arrayFilter((key, position) -> indexOf(keys, key) = position, keys, arrayEnumerate(keys))),
             if(length(arrayDistinct(keys)) = length(keys), texts,
                arrayMap(key -> texts[length(keys) + 1 - indexOf(arrayReverse(keys), key)],
                         arrayFilter((key, position) -> indexOf(keys, key) = position, keys, arrayEnumerate(keys))))),
         [arrayMap(kv -> leftUTF8(kv.key, {max_attribute_key_length:UInt32}),
                   arraySlice(ARG, 1, {max_attributes:UInt32}))],
         [arrayMap(kv -> leftUTF8({{text:kv.value}}, {max_attribute_value_length:UInt32}),
                   arraySlice(ARG, 1, {max_attributes:UInt32}))])[1]
