"""The OTLP trace request as the spool keeps it and the engine reads it: one definition, three forms.

The receivers spool export requests as they arrived (validated, rejected spans removed) and
ClickHouse converts them (``otlp_insert.sql``) with its ``Protobuf`` input format. This module
holds the message definition both sides use, with the OTLP field numbers, limited to what the
store keeps (other fields are skipped as unknown):

* :func:`proto_text` - proto3 source for ClickHouse's ``format_schema``;
* :func:`structure` - the ClickHouse column structure of one request row;
* :func:`request_class` - the Python message class the receivers parse with. Attribute values are
  scalars (string, bool, int, double, bytes: what the SQL renders, and what order spans carry); an
  array or map value parses into a message with a required field that is never set, so
  ``IsInitialized()`` is False (and serialising it fails) and the receiver takes the exact Python
  path for that request (which spools the values as text). Strings are UTF-8 checked (edition
  2023), as proto3 does;

and the door's quick forms (:mod:`collector.door`), which spare the receivers a Python object per
span and per attribute:

* :func:`columns_class` - the same messages with every repeated message field made singular, so
  that all the spans (attributes, events, ...) of a request merge into one message of columns;
  parsing with it checks what parsing with :func:`request_class` checks (wire format, UTF-8) and
  collects array and map values into two columns;
* :func:`span_keys_class` - per span only what the door checks (ids, times, events and links);
  :func:`key_columns_class` reads its compact serialisation as columns; :func:`span_bytes_class`
  reads a request with each span as one byte string (the door bounds a span's attributes from it);
  :func:`keys_class` also counts each span's attributes (a message each: only when the bound says
  some span might have more than the limit).
"""

from __future__ import annotations

from functools import cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

PACKAGE = "tower.otlp"
MESSAGE = "Request"

# (message, [(field, number, type, repeated)]); a type starting with a capital is a message.
# Fields in ONEOF are members of the message's oneof "value" (AnyValue).
_SCALAR_VALUE = [
    ("string_value", 1, "string", False),
    ("bool_value", 2, "bool", False),
    ("int_value", 3, "int64", False),
    ("double_value", 4, "double", False),
    ("bytes_value", 7, "bytes", False),
]
MESSAGES: list[tuple[str, list[tuple[str, int, str, bool]]]] = [
    ("AnyValue", _SCALAR_VALUE),
    ("KeyValue", [("key", 1, "string", False), ("value", 2, "AnyValue", False)]),
    ("Resource", [("attributes", 1, "KeyValue", True)]),
    ("Scope", [("name", 1, "string", False), ("version", 2, "string", False)]),
    (
        "Event",
        [
            ("time_unix_nano", 1, "fixed64", False),
            ("name", 2, "string", False),
            ("attributes", 3, "KeyValue", True),
        ],
    ),
    (
        "Link",
        [
            ("trace_id", 1, "bytes", False),
            ("span_id", 2, "bytes", False),
            ("trace_state", 3, "string", False),
            ("attributes", 4, "KeyValue", True),
        ],
    ),
    ("Status", [("message", 2, "string", False), ("code", 3, "int32", False)]),
    (
        "Span",
        [
            ("trace_id", 1, "bytes", False),
            ("span_id", 2, "bytes", False),
            ("trace_state", 3, "string", False),
            ("parent_span_id", 4, "bytes", False),
            ("name", 5, "string", False),
            ("kind", 6, "int32", False),
            ("start_time_unix_nano", 7, "fixed64", False),
            ("end_time_unix_nano", 8, "fixed64", False),
            ("attributes", 9, "KeyValue", True),
            ("events", 11, "Event", True),
            ("links", 13, "Link", True),
            ("status", 15, "Status", False),
        ],
    ),
    ("ScopeSpans", [("scope", 1, "Scope", False), ("spans", 2, "Span", True)]),
    ("ResourceSpans", [("resource", 1, "Resource", False), ("scope_spans", 2, "ScopeSpans", True)]),
    (MESSAGE, [("resource_spans", 1, "ResourceSpans", True)]),
]
_ONEOF_MESSAGES = {"AnyValue"}
_CLICKHOUSE_TYPES = {
    "string": "String",
    "bytes": "String",
    "bool": "UInt8",
    "int64": "Int64",
    "int32": "Int32",
    "double": "Float64",
    "fixed64": "UInt64",
}
# which member of AnyValue's oneof is set (input_format_protobuf_oneof_presence): field numbers
_PRESENCE = "Enum8('none' = 0, 'string' = 1, 'bool' = 2, 'int' = 3, 'double' = 4, 'array' = 5, 'kvlist' = 6, 'bytes' = 7)"


def proto_text() -> str:
    """proto3 source of the schema (ClickHouse ``format_schema`` with ``format_schema_source='string'``)."""
    lines = ['syntax = "proto3";', f"package {PACKAGE};"]
    for name, fields in MESSAGES:
        body = []
        members = []
        for field, number, kind, repeated in fields:
            line = f"{'repeated ' if repeated else ''}{kind} {field} = {number};"
            if name in _ONEOF_MESSAGES:
                members.append(line)
            else:
                body.append(line)
        if members:
            body.append("oneof value { " + " ".join(members) + " }")
        lines.append(f"message {name} {{ " + " ".join(body) + " }")
    return "\n".join(lines) + "\n"


def structure() -> str:
    """The ClickHouse structure of one request row (``file(path, 'Protobuf', structure)``)."""
    by_name = dict(MESSAGES)

    def column_type(kind: str, repeated: bool) -> str:
        inner = _tuple(kind) if kind in by_name else _CLICKHOUSE_TYPES[kind]
        return f"Array({inner})" if repeated else inner

    def _tuple(message: str) -> str:
        parts = [f"value {_PRESENCE}"] if message in _ONEOF_MESSAGES else []
        parts += [f"{field} {column_type(kind, repeated)}" for field, _n, kind, repeated in by_name[message]]
        return f"Tuple({', '.join(parts)})"

    return ", ".join(
        f"{field} {column_type(kind, repeated)}" for field, _n, kind, repeated in by_name[MESSAGE]
    )


_TYPES = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    "fixed64": descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64,
}
# per span what the door checks; the counted fields are messages without fields ("Empty"), so that
# they count as the spool schema counts them and serialise to two bytes each
_KEY_MESSAGES: list[tuple[str, list[tuple[str, int, str, bool]]]] = [
    ("Empty", []),
    ("Resource", [("attributes", 1, "Empty", True)]),
    ("Event", [("time_unix_nano", 1, "fixed64", False), ("attributes", 3, "Empty", True)]),
    ("Link", [("attributes", 4, "Empty", True)]),
    (
        "Span",
        [
            ("trace_id", 1, "bytes", False),
            ("span_id", 2, "bytes", False),
            ("parent_span_id", 4, "bytes", False),
            ("start_time_unix_nano", 7, "fixed64", False),
            ("end_time_unix_nano", 8, "fixed64", False),
            ("attributes", 9, "Empty", True),
            ("events", 11, "Event", True),
            ("links", 13, "Link", True),
        ],
    ),
    ("ScopeSpans", [("spans", 2, "Span", True)]),
    ("ResourceSpans", [("resource", 1, "Resource", False), ("scope_spans", 2, "ScopeSpans", True)]),
    (MESSAGE, [("resource_spans", 1, "ResourceSpans", True)]),
]


def _message_class(
    package: str, messages: list[tuple[str, list[tuple[str, int, str, bool]]]], merged: bool
) -> type[Message]:
    """``messages`` as an edition-2023 message class; ``merged``: every scalar field repeated and
    every message field singular (repeated messages merge: their fields become columns)."""
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package)
    file.syntax = "editions"
    file.edition = descriptor_pb2.EDITION_2023
    for name, fields in messages:
        message = file.message_type.add(name=name)
        for field, number, kind, repeated in fields:
            entry = message.field.add(name=field, number=number)
            if kind in _TYPES:
                entry.type = _TYPES[kind]
                repeated = repeated or merged
            else:
                entry.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                entry.type_name = f".{package}.{kind}"
                repeated = repeated and not merged
            entry.label = (
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{MESSAGE}"))


@cache
def columns_class() -> type[Message]:
    """The spool schema merged into columns; array and map values are byte-string columns."""
    messages = [
        (name, [*fields, ("array_value", 5, "bytes", False), ("kvlist_value", 6, "bytes", False)])
        if name == "AnyValue"
        else (name, fields)
        for name, fields in MESSAGES
    ]
    return _message_class("tower.door.columns", messages, merged=True)


@cache
def keys_class() -> type[Message]:
    """Per span what the door checks and its attributes, each an empty message (everything else is
    an unknown field)."""
    return _message_class("tower.door.keys", _KEY_MESSAGES, merged=False)


# the same without the span's attributes (left unknown and discarded): the quick way bounds their
# count from the span's bytes instead (:func:`collector.door.attribute_tags_bound`), sparing a
# message per attribute in the parse, the discard and the compact form
_SPAN_KEY_MESSAGES: list[tuple[str, list[tuple[str, int, str, bool]]]] = [
    (name, [field for field in fields if name != "Span" or field[0] != "attributes"])
    for name, fields in _KEY_MESSAGES
]


@cache
def span_keys_class() -> type[Message]:
    """Per span the ids, times, events and links the door checks; everything else (the span's
    attributes too) is an unknown field."""
    return _message_class("tower.door.spankeys", _SPAN_KEY_MESSAGES, merged=False)


@cache
def key_columns_class() -> type[Message]:
    """A serialised :func:`span_keys_class` message as columns; attributes, events and links are byte
    strings (one per item: counted; events and links parse again with :func:`event_columns_class`
    and :func:`link_columns_class`)."""
    counted = {"attributes", "events", "links"}
    messages = [
        (name, [(f, n, "bytes" if f in counted else k, r) for f, n, k, r in fields])
        for name, fields in _SPAN_KEY_MESSAGES
    ]
    return _message_class("tower.door.keycolumns", messages, merged=True)


@cache
def event_columns_class() -> type[Message]:
    """Serialised key events, concatenated, as columns (times; one byte string per attribute)."""
    fields = [("time_unix_nano", 1, "fixed64", False), ("attributes", 3, "bytes", True)]
    return _message_class("tower.door.events", [(MESSAGE, fields)], merged=True)


@cache
def link_columns_class() -> type[Message]:
    """Serialised key links, concatenated, as columns (one byte string per attribute)."""
    return _message_class("tower.door.links", [(MESSAGE, [("attributes", 4, "bytes", True)])], merged=True)


@cache
def span_bytes_class() -> type[Message]:
    """A request (or a serialised :func:`keys_class` message) with each span as one byte string."""
    messages: list[tuple[str, list[tuple[str, int, str, bool]]]] = [
        ("ScopeSpans", [("spans", 2, "bytes", True)]),
        ("ResourceSpans", [("scope_spans", 2, "ScopeSpans", True)]),
        (MESSAGE, [("resource_spans", 1, "ResourceSpans", True)]),
    ]
    return _message_class("tower.door.spanbytes", messages, merged=False)


@cache
def request_class() -> type[Message]:
    """The receivers' message class (see the module docstring)."""
    file = descriptor_pb2.FileDescriptorProto(name="tower_otlp_spool.proto", package=PACKAGE)
    file.syntax = "editions"
    file.edition = descriptor_pb2.EDITION_2023
    never = file.message_type.add(name="NotScalar")
    flag = never.field.add(name="never_set", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL)
    flag.label = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    flag.options.features.field_presence = descriptor_pb2.FeatureSet.LEGACY_REQUIRED
    types = {
        "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
        "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
        "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
        "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
        "fixed64": descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64,
    }
    for name, fields in MESSAGES:
        message = file.message_type.add(name=name)
        if name == "AnyValue":  # an array or map value: the request takes the Python path
            fields = [
                *fields,
                ("array_value", 5, "NotScalar", False),
                ("kvlist_value", 6, "NotScalar", False),
            ]
        if name in _ONEOF_MESSAGES:
            message.oneof_decl.add(name="value")
        for field, number, kind, repeated in fields:
            entry = message.field.add(name=field, number=number)
            entry.label = (
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            )
            if kind in types:
                entry.type = types[kind]
            else:
                entry.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                entry.type_name = f".{PACKAGE}.{kind}"
            if name in _ONEOF_MESSAGES:
                entry.oneof_index = 0
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{MESSAGE}"))
