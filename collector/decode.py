"""Request bodies -> ``ExportTraceServiceRequest``: protobuf, OTLP/JSON, gzip, with hostile input in mind.

* gzip is inflated incrementally with a hard output cap, so a small bomb cannot grow past the limit.
* Protobuf with invalid UTF-8 in string fields (which the strict parser refuses) is parsed again
  with a copy of the OTLP schema whose strings are bytes, and the text is repaired with U+FFFD, so
  the spans are kept instead of the whole request failing.
* OTLP/JSON differs from the protobuf JSON mapping in that trace and span ids are hex; they are
  converted to the mapping's base64 before ``json_format.ParseDict``. An id that is not hex becomes
  empty, so that span alone is rejected later.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from functools import cache
from typing import Any

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from storage.errors import TowerError


class BodyError(TowerError, ValueError):
    """The body cannot be read as an OTLP request (answered 400 / INVALID_ARGUMENT)."""


class BodyTooLarge(TowerError, ValueError):
    """The body (after decompression) is over the limit (answered 413 / RESOURCE_EXHAUSTED)."""


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate a gzip body, refusing to produce more than ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyError(f"gzip body is corrupt: {exc}") from None
    if len(out) > limit:
        raise BodyTooLarge(f"body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise BodyError("gzip body is truncated")
    if inflater.unused_data.strip(b"\x00"):
        raise BodyError("unexpected data after the gzip stream")
    return out


def parse_protobuf(data: bytes) -> tuple[ExportTraceServiceRequest, int]:
    """Parse a protobuf body; returns the request and the number of strings repaired."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
        return request, 0
    except DecodeError as exc:
        first_error = str(exc)
    lenient_class = _lenient_request_class()
    lenient = lenient_class()
    try:
        lenient.ParseFromString(data)
    except DecodeError:
        raise BodyError(f"body is not an OTLP ExportTraceServiceRequest: {first_error}") from None
    request = ExportTraceServiceRequest()
    repaired = _repair(lenient, request)
    return request, repaired


def parse_json(data: bytes) -> tuple[ExportTraceServiceRequest, int]:
    """Parse an OTLP/JSON body; returns the request and the number of strings repaired (0 or 1)."""
    repaired = 0
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            document = json.loads(data.decode("utf-8", "replace"))
            repaired = 1
        except ValueError as exc:
            raise BodyError(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BodyError("OTLP/JSON body must be an object with resourceSpans")
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise BodyError(f"body is not an OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request, repaired


def _hex_to_b64(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    except (ValueError, binascii.Error):
        return ""  # not hex: the span is rejected for its id, the rest of the request is kept


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                _convert_ids(
                    span, ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
                )
                for link in _list(span, "links"):
                    _convert_ids(link, ("traceId", "trace_id", "spanId", "span_id"))


def _list(obj: Any, *names: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(obj: Any, names: tuple[str, ...]) -> None:
    if not isinstance(obj, dict):
        return
    for name in names:
        if name in obj:
            obj[name] = _hex_to_b64(obj[name])


@cache
def _lenient_request_class() -> type[Message]:
    """ExportTraceServiceRequest from a copy of the OTLP schema in which every string is bytes."""
    pool = descriptor_pool.DescriptorPool()
    seen: set[str] = set()

    def add(file_descriptor: Any) -> None:
        if file_descriptor.name in seen:
            return
        for dependency in file_descriptor.dependencies:
            add(dependency)
        seen.add(file_descriptor.name)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        for message in proto.message_type:
            _strings_to_bytes(message)
        pool.Add(proto)

    add(ExportTraceServiceRequest.DESCRIPTOR.file)
    descriptor = pool.FindMessageTypeByName(ExportTraceServiceRequest.DESCRIPTOR.full_name)
    return message_factory.GetMessageClass(descriptor)


def _strings_to_bytes(message: descriptor_pb2.DescriptorProto) -> None:
    for field in message.field:
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
    for nested in message.nested_type:
        _strings_to_bytes(nested)


def _repair(source: Message, target: Message) -> int:
    """Copy a lenient message into the strict one, decoding bytes-for-strings with U+FFFD."""
    repaired = 0
    target_fields = target.DESCRIPTOR.fields_by_name
    for field, value in source.ListFields():
        target_field = target_fields[field.name]
        repeated = field.is_repeated
        if field.message_type is not None:
            if repeated:
                container = getattr(target, field.name)
                for item in value:
                    repaired += _repair(item, container.add())
            else:
                repaired += _repair(value, getattr(target, field.name))
        elif target_field.type == FieldDescriptor.TYPE_STRING:
            texts = list(value) if repeated else [value]
            decoded = []
            for raw in texts:
                try:
                    decoded.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    decoded.append(raw.decode("utf-8", "replace"))
                    repaired += 1
            if repeated:
                getattr(target, field.name).extend(decoded)
            else:
                setattr(target, field.name, decoded[0])
        elif repeated:
            getattr(target, field.name).extend(value)
        else:
            setattr(target, field.name, value)
    return repaired
