"""The engine converts: spooled OTLP requests -> ``otel_traces`` in one ``INSERT ... SELECT``.

ClickHouse reads the requests with its ``Protobuf`` input format (length-delimited messages of the
schema in :mod:`collector.otlp_schema`) and maps them with ``otlp_insert.sql``. The embedded engine
reads a file the writer puts beside the spool; a server gets the bytes in the request body
(``input()``). Both run with the segment's ``insert_deduplication_token``, single-threaded so that
a replayed segment forms the same blocks and is dropped by its token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from collector.convert import BlockRows, Limits
from collector.otlp_schema import MESSAGE, proto_text, request_class, structure
from storage import Store
from storage.sql import SqlFiles

_FILES = SqlFiles("collector")
_CALL = re.compile(r"\{\{(\w+):([^{}]*)\}\}")
# requests converted per block by the insert (a request larger than this is a block of its own);
# measured on 4 x 50k bench spans (all views): engine peak 1,254 -> 750 MiB, CPU unchanged (67 us)
INPUT_BLOCK_BYTES = 4 << 20


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def delimited(bodies: Iterable[bytes | memoryview]) -> Iterable[bytes | memoryview]:
    """The requests as the ``Protobuf`` format reads them: each prefixed with its length."""
    for body in bodies:
        yield _varint(len(body))
        yield body


@cache
def _fragments() -> dict[str, str]:
    fragments: dict[str, str] = {}
    name = None
    lines: list[str] = []
    for line in _FILES["otlp_values"].splitlines():
        match = re.match(r"--\s*fragment:\s*(\w+)\s*$", line)
        if match:
            if name:
                fragments[name] = "\n".join(lines).strip()
            name, lines = match.group(1), []
        elif name and not line.lstrip().startswith("--"):
            lines.append(line)
    if name:
        fragments[name] = "\n".join(lines).strip()
    return fragments


def expand(sql: str) -> str:
    """Replace every ``{{fragment:args}}`` with the fragment's SQL (innermost first)."""
    fragments = _fragments()

    def one(match: re.Match[str]) -> str:
        body = fragments[match.group(1)]
        args = [arg.strip() for arg in match.group(2).split(",")]
        if len(args) == 1:
            return body.replace("ARG", f"({args[0]})")
        for number, arg in enumerate(args, 1):
            body = body.replace(f"ARG{number}", f"({arg})")
        return body

    while True:
        expanded = _CALL.sub(one, sql)
        if expanded == sql:
            return expanded
        sql = expanded


@cache
def insert_sql(source: str) -> str:
    """The conversion insert reading from ``source`` (``file``: a path parameter; ``input``)."""
    text = "\n".join(
        line for line in _FILES["otlp_insert"].splitlines() if not line.lstrip().startswith("--")
    )
    structure_literal = "'" + structure().replace("\\", "\\\\").replace("'", "\\'") + "'"
    if source == "file":
        origin = f"file({{path:String}}, 'Protobuf', {structure_literal})"
    else:
        origin = f"input({structure_literal})"
    sql = expand(text.replace("{{source}}", origin))
    return sql + (" FORMAT Protobuf" if source == "input" else "")


def settings(token: str, schema_file: Path | None = None) -> dict[str, object]:
    """Insert settings; the embedded engine reads the schema from ``schema_file`` (as a string it
    would cache it in the process's working directory), a server gets it as a string."""
    schema: dict[str, object] = (
        {"format_schema": f"{schema_file}:{MESSAGE}", "format_schema_source": "file"}
        if schema_file is not None
        else {
            "format_schema": proto_text(),
            "format_schema_source": "string",
            "format_schema_message_name": MESSAGE,
        }
    )
    return {
        **schema,
        "input_format_protobuf_oneof_presence": 1,
        "insert_deduplication_token": token,
        "insert_deduplicate": 1,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        # no merging pass over each new part of the Replacing/Aggregating tables the views feed:
        # readers already take duplicates across parts (FINAL, LIMIT 1 BY, -Merge), and merges
        # collapse them later; the pass cost ~12 of ~95 µs per span of the whole insert
        "optimize_on_insert": 0,
        # one reading thread: a replayed segment forms the same blocks (and tokens)
        "max_threads": 1,
        "input_format_parallel_parsing": 0,
        # the requests are converted a few MiB at a time (the blocks are squashed again before the
        # insert writes its parts): converting a whole 50k-span batch at once held every
        # intermediate column of the attribute conversion together, ~0.8 GiB of the engine's peak
        "input_format_max_block_size_bytes": INPUT_BLOCK_BYTES,
        "output_format_json_escape_forward_slashes": 0,
    }


def parameters(limits: Limits) -> dict[str, int]:
    return {
        "max_attributes": limits.max_attributes,
        "max_attribute_key_length": limits.max_key_length,
        "max_attribute_value_length": limits.max_value_length,
        "max_array_length": limits.max_array_length,
        "max_events": limits.max_events,
        "max_links": limits.max_links,
    }


def insert_requests(
    store: Store, bodies: Iterable[bytes | memoryview], token: str, limits: Limits, scratch: Path
) -> None:
    """Insert OTLP request bodies into ``otel_traces`` as one batch, converted by the engine.

    ``scratch`` is a file path the embedded engine reads the requests from (removed afterwards).
    """
    params = {**parameters(limits)}
    if store.embedded:
        schema_file = scratch.with_name("otlp_spool.proto")
        text = proto_text()
        if not schema_file.exists() or schema_file.read_text() != text:
            schema_file.write_text(text)
        temporary = scratch.with_name(scratch.name + ".tmp")
        with open(temporary, "wb") as handle:
            handle.writelines(delimited(bodies))
        os.replace(temporary, scratch)
        try:
            store.command(
                insert_sql("file"),
                {**params, "path": str(scratch)},
                {**settings(token, schema_file), **store.acknowledged_insert_settings()},
            )
        finally:
            scratch.unlink(missing_ok=True)
    else:
        data = b"".join(delimited(bodies))
        store.client.command(
            insert_sql("input"),
            parameters=params,
            data=data,
            settings={**settings(token), **store.acknowledged_insert_settings()},
        )


class RequestRows:
    """The spans of a segment's requests, addressable by index, to insert any range of them again.

    Used when an insert fails and the writer splits the segment to find the spans the store refuses.
    A record that does not parse as a request (never written by a receiver) is one row of its own.
    """

    def __init__(self, payloads: Iterable[bytes | memoryview]) -> None:
        self._records: list[tuple[bytes, Any]] = []
        self._rows: list[tuple[int, int, int, int]] = []  # record, resource, scope, span
        parse = request_class().FromString
        for number, payload in enumerate(payloads):
            raw = bytes(payload)
            try:
                request = parse(raw)
            except DecodeError:
                request = None
            self._records.append((raw, request))
            if request is None:
                self._rows.append((number, -1, -1, -1))
                continue
            for r, resource_spans in enumerate(request.resource_spans):
                for s, scope_spans in enumerate(resource_spans.scope_spans):
                    self._rows.extend((number, r, s, n) for n in range(len(scope_spans.spans)))
        self.count = len(self._rows)

    def block(self, first: int, end: int) -> list[bytes]:
        """Rows ``first`` (inclusive) to ``end`` (exclusive) as request bodies."""
        wanted: dict[int, set[tuple[int, int, int]]] = {}
        for number, r, s, n in self._rows[first:end]:
            wanted.setdefault(number, set()).add((r, s, n))
        bodies = []
        for number, keep in sorted(wanted.items()):
            raw, request = self._records[number]
            if request is None:
                bodies.append(raw)
                continue
            subset = request_class()()
            subset.CopyFrom(request)
            for r, resource_spans in enumerate(subset.resource_spans):
                for s, scope_spans in enumerate(resource_spans.scope_spans):
                    spans = scope_spans.spans
                    for n in reversed(range(len(spans))):
                        if (r, s, n) not in keep:
                            del spans[n]
            bodies.append(subset.SerializeToString())
        return bodies

    def row(self, index: int) -> dict[str, Any]:
        """One row as OTLP/JSON-like data (ids in hex), for people to read."""
        number, r, s, n = self._rows[index]
        raw, request = self._records[number]
        if request is None:
            return {"unreadable_record_hex": raw[:256].hex(), "bytes": len(raw)}
        resource_spans = request.resource_spans[r]
        span = resource_spans.scope_spans[s].spans[n]
        data = json_format.MessageToDict(span, preserving_proto_field_name=True)
        for key in ("trace_id", "span_id", "parent_span_id"):
            data[key] = getattr(span, key).hex()
        data["resource"] = json_format.MessageToDict(
            resource_spans.resource, preserving_proto_field_name=True
        )
        data["scope"] = json_format.MessageToDict(
            resource_spans.scope_spans[s].scope, preserving_proto_field_name=True
        )
        return data


def is_legacy(payloads: list[bytes] | list[memoryview]) -> bool:
    """Records of a spool written before the engine converted (JSONCompactColumns blocks)."""
    return bool(payloads) and bytes(payloads[0][:1]) == b"["


def segment_rows(payloads: list[bytes] | list[memoryview]) -> RequestRows | BlockRows:
    """The rows of a segment's records, whichever format they were spooled in."""
    return BlockRows(payloads) if is_legacy(payloads) else RequestRows(payloads)
