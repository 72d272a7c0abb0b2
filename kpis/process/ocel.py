"""OCEL 2.0 (JSON, SQLite, XML) and XES exports of the filter's orders, streamed in bounded memory.

ClickHouse builds every event and object (``export_events.sql``, ``export_objects.sql``) and
formats it (JSON lines, or XML text with every value escaped); this module only frames the stream.
The object model is written down in docs/conventions.md ("Process mining").
"""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from kpis.process.filters import ProcessFilter
from kpis.process.mining import SQL
from storage import Store

Format = Literal["json", "sqlite", "xml"]
FORMATS: tuple[str, ...] = ("json", "sqlite", "xml")
OBJECT_TYPES = (
    "order",
    "customer_po",
    "shipment",
    "tracking_number",
    "invoice",
    "batch",
    "edi_interchange",
    "edi_transaction_set",
)
ORDER_ATTRIBUTES = ("channel", "region", "erp", "warehouse", "customer_tier")
EVENT_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("stage", "string"),
    ("system", "string"),
    ("system_kind", "string"),
    ("span_name", "string"),
    ("status", "string"),
    ("status_code", "string"),
    ("manual_touch", "boolean"),
    ("user", "string"),
    ("exception_type", "string"),
    ("exception_outcome", "string"),
    ("duration_s", "float"),
)
# XML 1.0 cannot carry most control characters, even escaped: they become U+FFFD. Tab, newline,
# carriage return and backslash become character references: the stream is TabSeparated (which the
# engine streams block by block) and TabSeparated would escape them; references keep them exact
# (in attribute values, XML readers would even turn raw tabs and newlines into spaces).
_XML_EVERY_VALUE = (
    "replaceAll(replaceAll(replaceAll(replaceAll("
    "replaceRegexpAll(toValidUTF8(replaceAll(replaceAll(replaceAll(replaceAll(replaceAll({v}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '\"', '&quot;'), '''', '&apos;')), '[\\\\x00-\\\\x08\\\\x0B\\\\x0C\\\\x0E-\\\\x1F]', '\\xef\\xbf\\xbd')"
    ", '\\\\', '&#92;'), char(9), '&#9;'), char(10), '&#10;'), char(13), '&#13;')"
)
# Most values are valid UTF-8 without control characters or backslashes: for them the five
# entities are all there is to write (one pass: encodeXMLComponent writes the same entities); only
# the others take the passes above (the engine evaluates a branch of `if` only for its rows).
_XML = (
    "if(isValidUTF8({v}) AND NOT match({v}, '[\\\\\\\\\\\\x00-\\\\x1F]'), encodeXMLComponent({v}), "
    + _XML_EVERY_VALUE
    + ")"
)


def _x(value: str) -> str:
    return _XML.format(v=value)


@dataclass(frozen=True)
class ExportCounts:
    """What an export holds: the tower's own count of each part."""

    objects: int
    events: int
    event_objects: int
    object_objects: int


# The exports read the filter's orders in ranges of order ids (order_spans and order_paths are sorted
# by order id): each query holds one range's orders, whatever the size of the export.
CHUNK_ORDERS = 20_000


@dataclass(frozen=True)
class _Range:
    """The orders with ``lo < OrderId <= hi`` (an open end when None). ``shared``: a hop span of the
    range may be shared by several orders; ``objects``: a hop span of the range may name an object
    (both unknown, so assumed, until :func:`_probed`)."""

    lo: str | None = None
    hi: str | None = None
    shared: bool = True
    objects: bool = True

    def condition(self) -> str:
        lo = "AND OrderId > {range_lo:String}" if self.lo is not None else ""
        hi = " AND OrderId <= {range_hi:String}" if self.hi is not None else ""
        return lo + hi

    def parameters(self) -> dict[str, str]:
        bound = {"range_lo": self.lo, "range_hi": self.hi}
        return {k: v for k, v in bound.items() if v is not None}


_EVERYTHING = _Range()


def _ranges(store: Store, flt: ProcessFilter, size: int | None = None) -> list[_Range]:
    """Ranges of about ``size`` (default :data:`CHUNK_ORDERS`) of the filter's orders each, covering
    all of them: the id of every size-th order (in id order) closes a range."""
    size = size or CHUNK_ORDERS
    sql = (
        f"SELECT OrderId FROM (SELECT OrderId, rowNumberInAllBlocks() AS n FROM "
        f"(SELECT OrderId FROM ({SQL['cases']}) ORDER BY OrderId)) WHERE n % {int(size)} = {int(size) - 1} "
        "ORDER BY OrderId"
    )
    bounds = [str(row[0]) for row in store.query(sql, flt.parameters()).result_rows]
    edges: list[str | None] = [None, *bounds, None]
    return [_Range(lo, hi) for lo, hi in itertools.pairwise(edges)]


# the objects of a range none of whose hop spans names one (the type of order_spans.SpanObjects)
_NO_SPAN_OBJECTS = "CAST([], 'Array(Tuple(String, String, String))')"


def _sql(name: str, part: _Range = _EVERYTHING) -> str:
    """A query of the export with the filter's orders of ``part`` put in (``ALL_CASES``: all of the
    filter's orders, whatever the range); the events' spans with the look-up of shared spans
    (event_spans_shared.sql) and the objects the spans name (span_objects.sql: order_spans' column
    SpanObjects) only where the range
    may have them."""
    cond = part.condition()
    spans = "event_spans_shared" if part.shared else "event_spans_own"
    return (
        SQL[name]
        .replace("/*EVENT_SPANS*/", SQL[spans])
        .replace("/*SPAN_ROWS*/", SQL["event_span_rows"])
        .replace("/*RANGE*/", cond)
        .replace("/*CASES*/", SQL["cases"].replace("/*RANGE*/", cond))
        .replace("/*ALL_CASES*/", SQL["cases"])
        .replace("/*SPAN_OBJECTS*/", SQL["span_objects"] if part.objects else _NO_SPAN_OBJECTS)
    )


def _events(columns: str, part: _Range = _EVERYTHING) -> str:
    return f"SELECT {columns} FROM ({_sql('export_events', part)})"


def _probed(store: Store, flt: ProcessFilter, parts: list[_Range]) -> list[_Range]:
    """``parts`` with what each holds (event_spans_probe.sql, one cheap query a range): the look-up
    of spans shared by several orders (a join, a tenth of the export's time) is left out of a range
    whose hop spans all name their order, and the objects spans name (read by each of the three
    queries that need them) out of a range none of whose spans names one."""
    params = flt.parameters()
    probed = []
    for part in parts:
        shared, objects = store.query(
            _sql("event_spans_probe", part), {**params, **part.parameters()}
        ).result_rows[0]
        probed.append(dataclasses.replace(part, shared=bool(shared), objects=bool(objects)))
    return probed


def _objects(columns: str, part: _Range = _EVERYTHING) -> str:
    return f"SELECT {columns} FROM ({_sql('export_objects', part)})"


def _named_objects(columns: str) -> str:
    return f"SELECT {columns} FROM ({_sql('export_named_objects')})"


def _chunked(
    store: Store,
    flt: ProcessFilter,
    parts: list[_Range],
    query: Callable[[_Range], str],
    settings: str = "",
) -> Iterator[bytes]:
    """The result of ``query`` for each range of orders in turn, as the engine's chunks of bytes."""
    params = flt.parameters()
    for part in parts:
        yield from _stream(store, query(part), {**params, **part.parameters()}, settings)


def _object_chunks(
    store: Store,
    flt: ProcessFilter,
    parts: list[_Range],
    columns: str,
    settings: str = "",
) -> Iterator[bytes]:
    """The orders (range by range), then the objects their hops name (none when no range's spans
    name one: the query is left out)."""
    yield from _chunked(store, flt, parts, lambda part: _objects(columns, part), settings)
    if any(part.objects for part in parts):
        yield from _stream(store, _named_objects(columns), flt.parameters(), settings + _NAMED_SETTINGS)


def _event_chunks(
    store: Store,
    flt: ProcessFilter,
    parts: list[_Range],
    columns: str,
    settings: str = "",
) -> Iterator[bytes]:
    return _chunked(store, flt, parts, lambda part: _events(columns, part), settings)


def _j(value: str) -> str:
    """A value as a JSON string, as the engine's JSON formats write it (valid UTF-8: invalid bytes
    become U+FFFD, as output_format_json_validate_utf8 has them)."""
    return f"toJSONString(toValidUTF8({value}))"


# Each event and object is formatted in the engine as one line of JSON text, by the query's
# threads (JSONEachRow would format every row in the one thread that reads the stream), and read as
# TabSeparated: see _json_items. Attribute names are the export's own, plain ASCII.
_JSON_RELATIONSHIPS = (
    "arrayStringConcat(arrayMap(r -> concat('{{\"objectId\":', {r1}, ',\"qualifier\":', {r2}, '}}'), "
    "relationships), ',')"
).format(r1=_j("r.1"), r2=_j("r.2"))


# Event attributes whose values the engine writes itself, never empty and with nothing to escape
# (digits, a point, a sign; true or false): written as they are, without the per-row escaping and
# the test for an empty value (columns that are not LowCardinality are formatted row by row).
_PLAIN_ATTRIBUTES = ("manual_touch", "duration_s")


def _json_attribute(name: str) -> str:
    """An event attribute (a column of export_events.sql) as an item of the JSON array of attributes
    with a leading comma, or '' when the event has none (an empty value). A JSON string escapes
    every quote of the value, so the empty item can only be the whole text."""
    item = f',{{"name":"{name}","value":'
    if name in _PLAIN_ATTRIBUTES:
        return f"concat('{item}\"', {name}, '\"}}')"
    if name == "user":  # a String, mostly empty: escaped only when there is one
        return f"if({name} = '', '', concat('{item}', {_j(name)}, '}}'))"
    return f"replaceOne(concat('{item}', {_j(name)}, '}}'), '{item}\"\"}}', '')"


_JSON_EVENT = (
    "concat('{{\"id\":', {id}, ',\"type\":', {type}, ',\"time\":', {time}, ',\"attributes\":[', "
    "substring(concat({attributes}), 2), '],\"relationships\":[', {rels}, ']}}')"
).format(
    id=_j("id"),
    # the type is "<stage> @ <system>": each part escaped once per distinct value (LowCardinality
    # columns), the quotes of the two JSON strings dropped where they meet
    type=f"concat(substring({_j('stage')}, 1, -1), ' @ ', substring({_j('system')}, 2))",
    time="concat('\"', time, '\"')",  # digits, '-', ':', '.', 'T' and 'Z': nothing to escape
    attributes=", ".join(_json_attribute(name) for name, _ in EVENT_ATTRIBUTES),
    rels=_JSON_RELATIONSHIPS,
)
_JSON_OBJECT = (
    "concat('{{\"id\":', {id}, ',\"type\":', {type}, ',\"attributes\":[', "
    'arrayStringConcat(arrayMap(a -> concat(\'{{"name":"\', a.1, \'","time":"\', a.2, \'","value":\', {a3}, \'}}\'), '
    "attributes), ','), '],\"relationships\":[', {rels}, ']}}')"
).format(id=_j("id"), type=_j("type"), a3=_j("a.3"), rels=_JSON_RELATIONSHIPS)


def _xml_attribute(name: str) -> str:
    """An event attribute (a column of export_events.sql) as an ``<attribute>`` element, or '' when
    the event has none (an empty value: escaped, a value holds no ``<``, so the empty element can
    only be the whole text). The escaping is the plain chain of replacements, which on a
    LowCardinality column runs once per distinct value."""
    item = f'<attribute name="{name}">'
    if name in _PLAIN_ATTRIBUTES:
        return f"concat('{item}', {name}, '</attribute>')"
    if name == "user":  # a String, mostly empty: escaped only when there is one
        return f"if({name} = '', '', concat('{item}', {_x(name)}, '</attribute>'))"
    value = _XML_EVERY_VALUE.format(v=name)
    return f"replaceOne(concat('{item}', {value}, '</attribute>'), '{item}</attribute>', '')"


_XML_EVENT = (
    "concat('<event id=\"', {id}, '\" type=\"', {type}, '\" time=\"', time, '\"><attributes>', "
    "{attributes}, "
    "'</attributes><objects>', "
    "arrayStringConcat(arrayMap(r -> concat('<relationship object-id=\"', {r1}, '\" qualifier=\"', {r2}, '\"/>'), relationships)), "
    "'</objects></event>')"
).format(
    id=_x("id"),
    type="concat({}, ' @ ', {})".format(
        _XML_EVERY_VALUE.format(v="stage"), _XML_EVERY_VALUE.format(v="system")
    ),
    attributes=", ".join(_xml_attribute(name) for name, _ in EVENT_ATTRIBUTES),
    r1=_x("r.1"),
    r2=_x("r.2"),
)
_XML_OBJECT = (
    "concat('<object id=\"', {id}, '\" type=\"', type, '\"><attributes>', "
    "arrayStringConcat(arrayMap(a -> concat('<attribute name=\"', a.1, '\" time=\"', a.2, '\">', {a3}, '</attribute>'), attributes)), "
    "'</attributes><objects>', "
    "arrayStringConcat(arrayMap(r -> concat('<relationship object-id=\"', {r1}, '\" qualifier=\"', {r2}, '\"/>'), relationships)), "
    "'</objects></object>')"
).format(id=_x("id"), a3=_x("a.3"), r1=_x("r.1"), r2=_x("r.2"))


def counts(store: Store, flt: ProcessFilter) -> ExportCounts:
    """The tower's own count of the export's objects, events and relations."""
    params = flt.parameters()
    events, e2o = store.query(_events("count(), sum(length(relationships))"), params).result_rows[0]
    orders, o2o = store.query(_objects("count(), sum(length(relationships))"), params).result_rows[0]
    named, n2o = store.query(_named_objects("count(), sum(length(relationships))"), params).result_rows[0]
    return ExportCounts(int(orders) + int(named), int(events), int(e2o or 0), int(o2o or 0) + int(n2o or 0))


def event_types(store: Store, flt: ProcessFilter) -> list[str]:
    sql = f"SELECT DISTINCT arrayJoin(acts) AS a FROM ({SQL['cases']}) ORDER BY a"
    return [r[0] for r in store.query(sql, flt.parameters()).result_rows]


# Bounded memory: the embedded engine streams a result block by block only in formats without a
# header or footer (JSONEachRow, TabSeparated) and only without per-query client settings; with
# them, or in TSVRaw, clickhouse-connect materialises the whole result first (the export's memory
# grew with its size). So the settings ride in the SQL: small blocks, two threads, and no parallel
# formatting (with it the engine formats a streamed JSON result many times slower).
_STREAM_SETTINGS = (
    "\nSETTINGS max_block_size = 8192, max_threads = 2, output_format_parallel_formatting = 0, "
    "output_format_json_validate_utf8 = 1"
)


# The named objects' aggregation (export_named_objects.sql) on one thread, with small buffers for its
# spilled parts: on two threads it spills far more often (1M orders: 80-380 parts to merge, 240-440
# MiB at its peak, query_log) than on one (37 parts, 125-155 MiB, about the same time); the merge
# reads every part through a buffer of temporary_files_buffer_size (1 MiB by default). The settings
# must be the query's own (after the stream's): a subquery's max_threads is not the pipeline's.
_NAMED_SETTINGS = ", max_threads = 1, temporary_files_buffer_size = 65536"


# Bytes handed on at a time: the export's own memory is about one of the engine's blocks of
# max_block_size rows (a few MB of text) and one of these. Python's passes over the text (replaces,
# writes) are faster over pieces that stay in the CPU's cache than over whole blocks.
READ_BYTES = 1 << 20


def _stream(store: Store, sql: str, params: dict[str, Any], settings: str = "") -> Iterator[bytes]:
    """The result of ``sql`` as TabSeparated text, streamed block by block in chunks of bytes (which
    end anywhere, not at a row's end), with ``settings`` (``, name = value``...) after the stream's
    own. Each row ends with a newline.

    A TabSeparated result of the XML expressions is one column whose values hold no tab, newline,
    backslash or quote (they write them as character references), so TabSeparated escapes nothing
    and each row is the value and a newline: the chunks are the export's text as it is. Lines of
    JSON text may hold backslashes and apostrophes, which TabSeparated escapes (_json_items undoes
    it), but no newline."""
    with store.client.raw_stream(
        sql + _STREAM_SETTINGS + settings, parameters=params, fmt="TabSeparated"
    ) as stream:
        # clickhouse-connect's stream of the embedded engine (chdb) has each block's bytes from
        # _pull; its read() gathers them in a buffer and copies them out again (events of 200,000
        # orders, JSON: 4.1-4.8 -> 3.1-3.4 CPU-s). Any other stream (a ClickHouse server's) is read.
        pull = getattr(stream, "_pull", None)
        if not callable(pull):
            while chunk := stream.read(READ_BYTES):
                yield chunk
            return
        while block := pull():
            for start in range(0, len(block), READ_BYTES):
                yield block[start : start + READ_BYTES]


# The engine writes the JSON lines' strings with '/' as it is (by default its JSON escapes it as
# '\/'): _json_items writes every '/' of the text back as '\/', a replacement of one byte that Python
# does at memory speed. So the stream holds a backslash only where a value has a quote, a backslash,
# a control character or an apostrophe, and undoing the TabSeparated escapes (a search for pairs of
# bytes, ~0.4 s a 100 MB) is left out of the other chunks. Outside its strings, the JSON text of an
# event or object holds no '/'.
_JSON_TEXT_SETTINGS = ", output_format_json_escape_forward_slashes = 0"


def _unescaped(chunk: bytes) -> bytes:
    """``chunk`` without TabSeparated's escapes of JSON text (``\\\\`` and ``\\'``; it holds no other):
    every backslash but the second of a pair goes. Split at the backslashes (a search for one
    byte), a pair of backslashes leaves an empty piece between them."""
    pieces = chunk.split(b"\\")
    kept = [pieces[0]]
    i, n = 1, len(pieces)
    while i < n:
        if pieces[i]:  # after an escaped apostrophe: the apostrophe and what follows
            kept.append(pieces[i])
            i += 1
        else:  # an escaped backslash: the backslash, then the text after it (up to the next escape)
            kept.append(b"\\")
            if i + 1 < n:
                kept.append(pieces[i + 1])
            i += 2
    return b"".join(kept)


def _json_items(chunks: Iterator[bytes], out: BinaryIO) -> None:
    """Lines of JSON text, read as TabSeparated with '/' unescaped (_JSON_TEXT_SETTINGS), as the
    items of a JSON array: each row's newline becomes ``,\n`` except the last one's, which is
    dropped, and each '/' becomes ``\\/``.

    JSON text holds no control characters (its strings escape them), so TabSeparated has escaped
    only its backslashes (``\\\\``) and apostrophes (``\\'``): undone here first (every backslash of
    the stream begins one of those pairs; a pair cut by the end of a chunk waits for the next one)."""
    held = False  # the previous chunk ended with a row's newline, not yet written
    cut = b""  # the first backslash of a pair the previous chunk ended in
    for chunk in chunks:
        if cut:
            chunk, cut = cut + chunk, b""
        if b"\\" in chunk:
            if chunk.endswith(b"\\") and (len(chunk) - len(chunk.rstrip(b"\\"))) % 2:
                chunk, cut = chunk[:-1], b"\\"
            chunk = _unescaped(chunk)
        if not chunk:
            continue
        if held:
            out.write(b",\n")
        held = chunk.endswith(b"\n")
        out.write((chunk[:-1] if held else chunk).replace(b"\n", b",\n").replace(b"/", b"\\/"))


def _type_headers(store: Store, flt: ProcessFilter) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    object_types = [
        {
            "name": t,
            "attributes": [{"name": a, "type": "string"} for a in ORDER_ATTRIBUTES] if t == "order" else [],
        }
        for t in OBJECT_TYPES
    ]
    event_types_ = [
        {"name": name, "attributes": [{"name": a, "type": kind} for a, kind in EVENT_ATTRIBUTES]}
        for name in event_types(store, flt)
    ]
    return object_types, event_types_


def write_json(store: Store, flt: ProcessFilter, out: BinaryIO) -> None:
    """OCEL 2.0 JSON: objectTypes, eventTypes, objects, events."""
    object_types, types = _type_headers(store, flt)
    parts = _probed(store, flt, _ranges(store, flt))
    out.write(b'{"objectTypes":' + orjson.dumps(object_types) + b',"eventTypes":' + orjson.dumps(types))
    for key, chunks in (
        (b"objects", _object_chunks(store, flt, parts, _JSON_OBJECT, _JSON_TEXT_SETTINGS)),
        (b"events", _event_chunks(store, flt, parts, _JSON_EVENT, _JSON_TEXT_SETTINGS)),
    ):
        out.write(b',"' + key + b'":[')
        _json_items(chunks, out)
        out.write(b"]")
    out.write(b"}\n")


def write_xml(store: Store, flt: ProcessFilter, out: BinaryIO) -> None:
    """OCEL 2.0 XML (``<log>`` with object-types, event-types, objects, events)."""
    object_types, types = _type_headers(store, flt)
    parts = _probed(store, flt, _ranges(store, flt))

    def esc(text: str) -> str:
        return (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            .replace("'", "&apos;")
        )

    def type_block(tag: str, items: list[dict[str, Any]]) -> str:
        parts = [f"<{tag}s>"]
        for item in items:
            attrs = "".join(
                f'<attribute name="{esc(a["name"])}" type="{a["type"]}"/>' for a in item["attributes"]
            )
            parts.append(f'<{tag} name="{esc(item["name"])}"><attributes>{attrs}</attributes></{tag}>')
        parts.append(f"</{tag}s>")
        return "".join(parts)

    out.write(b"<?xml version='1.0' encoding='UTF-8'?>\n<log>\n")
    out.write(type_block("object-type", object_types).encode() + b"\n")
    out.write(type_block("event-type", types).encode() + b"\n")
    for tag, chunks in (
        ("objects", _object_chunks(store, flt, parts, _XML_OBJECT)),
        ("events", _event_chunks(store, flt, parts, _XML_EVENT)),
    ):
        out.write(f"<{tag}>\n".encode())
        for chunk in chunks:  # one element and a newline a row, as they are to be written
            out.write(chunk)
        out.write(f"</{tag}>\n".encode())
    out.write(b"</log>\n")


def _attribute(name: str, kind: str) -> str:
    """An event attribute's value (its column of export_events.sql) as a column of the SQLite
    export ('' when the event has none)."""
    if kind == "boolean":
        return f"toUInt8({name} = 'true')"
    if kind == "float":
        return f"toFloat64OrZero({name})"
    return f"toValidUTF8(toString({name}))"


_SQLITE_RELATIONSHIPS = (
    "toJSONString(arrayDistinct(arrayMap(r -> (toValidUTF8(r.1), toValidUTF8(r.2)), relationships)))"
)
# the rows of the SQLite export's staging tables, which SQLite itself fans out to its tables
_SQLITE_EVENT = (
    "toValidUTF8(type), id, toString(toDateTime64(at, 6, 'UTC')), "
    + ", ".join(_attribute(name, kind) for name, kind in EVENT_ATTRIBUTES)
    + f", {_SQLITE_RELATIONSHIPS}"
)
_SQLITE_OBJECT = (
    "type, toValidUTF8(id), "
    + ", ".join(f"toValidUTF8(arrayFirst(a -> a.1 = '{name}', attributes).3)" for name in ORDER_ATTRIBUTES)
    + f", {_SQLITE_RELATIONSHIPS}"
)


def _row_blocks(store: Store, sql: str, params: dict[str, Any], settings: str = "") -> Iterator[Any]:
    """The rows of ``sql`` (tuples), streamed block by block (settings in the SQL: see _STREAM_SETTINGS;
    ``settings`` after them)."""
    with store.client.query_row_block_stream(sql + _STREAM_SETTINGS + settings, parameters=params) as stream:
        yield from stream


def write_sqlite(store: Store, flt: ProcessFilter, path: Path) -> None:
    """OCEL 2.0 SQLite: event, object, event_object, object_object, the type maps and one table per
    event and object type (``event_<n>``, ``object_<n>``: types are numbered, names may hold anything).

    ClickHouse shapes each range's rows (relationships as a JSON array, each once); Python hands the
    blocks to a staging table unchanged and SQLite fans them out to the export's tables (the
    relationships with json_each). The keys are unique indexes built once the tables are loaded: a
    million orders are tens of millions of rows, and keeping a B-tree of random ids up to date row
    by row is what made the export slow."""
    if path.exists():
        path.unlink()
    object_types, types = _type_headers(store, flt)
    parts = _probed(store, flt, _ranges(store, flt))
    params = flt.parameters()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA temp_store = MEMORY")  # one range of orders at a time
        db.executescript(
            """
            CREATE TABLE event (ocel_id TEXT, ocel_type TEXT);
            CREATE TABLE object (ocel_id TEXT, ocel_type TEXT);
            CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT);
            CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, ocel_qualifier TEXT);
            CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            """
        )
        event_table = {t["name"]: f"t{i}" for i, t in enumerate(types)}
        object_table = {t["name"]: f"t{i}" for i, t in enumerate(object_types)}
        db.executemany("INSERT INTO event_map_type VALUES (?, ?)", list(event_table.items()))
        db.executemany("INSERT INTO object_map_type VALUES (?, ?)", list(object_table.items()))
        sqlite_types = {"string": "TEXT", "boolean": "INTEGER", "float": "REAL"}
        event_cols = "".join(f', "{n}" {sqlite_types[k]}' for n, k in EVENT_ATTRIBUTES)
        for table in event_table.values():
            db.execute(f'CREATE TABLE "event_{table}" (ocel_id TEXT, ocel_time TIMESTAMP{event_cols})')
        for name, table in object_table.items():
            cols = "".join(f', "{a}" TEXT' for a in ORDER_ATTRIBUTES) if name == "order" else ""
            db.execute(
                f'CREATE TABLE "object_{table}" (ocel_id TEXT, ocel_time TIMESTAMP, ocel_changed_field TEXT{cols})'
            )
        attrs = ", ".join(f'"{n}"' for n, _ in EVENT_ATTRIBUTES)
        order_attrs = ", ".join(f'"{a}"' for a in ORDER_ATTRIBUTES)
        db.execute(f"CREATE TEMP TABLE stage_event (type TEXT, id TEXT, time TEXT, {attrs}, rels TEXT)")
        db.execute(f"CREATE TEMP TABLE stage_object (type TEXT, id TEXT, {order_attrs}, rels TEXT)")
        event_marks = ", ".join("?" * (len(EVENT_ATTRIBUTES) + 4))
        object_marks = ", ".join("?" * (len(ORDER_ATTRIBUTES) + 3))

        def load(table: str, marks: str, sql: str, bound: dict[str, Any], settings: str = "") -> None:
            for block in _row_blocks(store, sql, bound, settings):
                db.executemany(f"INSERT INTO {table} VALUES ({marks})", block)

        def relations(stage: str, table: str) -> None:
            db.execute(
                f"INSERT INTO {table} SELECT s.id, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]') "
                f"FROM {stage} AS s, json_each(s.rels) AS r"
            )

        def fan_out_objects() -> None:
            db.execute("INSERT INTO object SELECT id, type FROM stage_object")
            for name, table in object_table.items():
                extra = f", {order_attrs}" if name == "order" else ""
                db.execute(
                    f"INSERT INTO \"object_{table}\" SELECT id, '1970-01-01 00:00:00', NULL{extra} "
                    "FROM stage_object WHERE type = ?",
                    (name,),
                )
            relations("stage_object", "object_object")
            db.execute("DELETE FROM stage_object")

        for part in parts:
            load(
                "stage_object", object_marks, _objects(_SQLITE_OBJECT, part), {**params, **part.parameters()}
            )
            fan_out_objects()
        if any(part.objects for part in parts):
            load("stage_object", object_marks, _named_objects(_SQLITE_OBJECT), params, _NAMED_SETTINGS)
            fan_out_objects()
        for part in parts:
            load("stage_event", event_marks, _events(_SQLITE_EVENT, part), {**params, **part.parameters()})
            db.execute("INSERT INTO event SELECT id, type FROM stage_event")
            for name, table in event_table.items():
                db.execute(
                    f'INSERT INTO "event_{table}" SELECT id, time, {attrs} FROM stage_event WHERE type = ?',
                    (name,),
                )
            relations("stage_event", "event_object")
            db.execute("DELETE FROM stage_event")
        db.commit()
        # the staging tables go, and with them the in-memory temp store: building an index sorts
        # every row of its table, which spills to temporary files only with temp_store = FILE
        db.execute("DROP TABLE stage_event")
        db.execute("DROP TABLE stage_object")
        db.execute("PRAGMA temp_store = FILE")
        db.execute("PRAGMA cache_size = -65536")  # 64 MiB: the sorter's runs before it spills
        keys = [
            ("event", "ocel_id"),
            ("object", "ocel_id"),
            ("event_object", "ocel_event_id, ocel_object_id, ocel_qualifier"),
            ("object_object", "ocel_source_id, ocel_target_id, ocel_qualifier"),
            *((f"event_{table}", "ocel_id") for table in event_table.values()),
        ]
        for table, columns in keys:
            db.execute(f'CREATE UNIQUE INDEX "{table}_key" ON "{table}" ({columns})')
        db.commit()


def write_xes(store: Store, flt: ProcessFilter, out: BinaryIO) -> None:
    """XES (IEEE 1849) for case-centric tools: one trace per order, its hops as events in time order."""
    out.write(
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">\n'
        b'<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
        b'<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n'
        b'<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>\n'
        b'<global scope="trace"><string key="concept:name" value="__INVALID__"/></global>\n'
        b'<global scope="event"><string key="concept:name" value="__INVALID__"/>'
        b'<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/></global>\n'
        b'<classifier name="Activity" keys="concept:name"/>\n'
    )
    parts = _ranges(store, flt)
    for chunk in _chunked(store, flt, parts, lambda part: _sql("export_xes", part)):
        out.write(chunk)  # one <trace> and a newline a row
    out.write(b"</log>\n")


def export(store: Store, flt: ProcessFilter, fmt: str, out: BinaryIO) -> None:
    """Write the OCEL 2.0 export of ``flt`` in ``fmt`` (json or xml) to ``out``."""
    if fmt == "json":
        write_json(store, flt, out)
    elif fmt == "xml":
        write_xml(store, flt, out)
    else:
        raise ValueError(f"format {fmt!r} streams to a file only (sqlite) or is unknown; formats: {FORMATS}")
