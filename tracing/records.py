"""Plain span records: what the simulator produces and the sinks (OTLP, ClickHouse) consume.

A record is deliberately independent of the OpenTelemetry SDK and of ClickHouse, so the model can be
tested as data and written by either sink. Attribute values follow OTLP: str, int, float, bool, a
list of str or a list of int.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

AttrValue = str | int | float | bool | list[str] | list[int]
Attributes = dict[str, AttrValue]

# Span kinds and status codes spelled as the OTel Collector's clickhouseexporter stores them.
KIND_INTERNAL: Final = "Internal"
KIND_SERVER: Final = "Server"
KIND_CLIENT: Final = "Client"
KIND_PRODUCER: Final = "Producer"
KIND_CONSUMER: Final = "Consumer"
STATUS_UNSET: Final = "Unset"
STATUS_OK: Final = "Ok"
STATUS_ERROR: Final = "Error"

SCOPE_NAME: Final = "order-control-tower.simulator"
SCOPE_VERSION: Final = "0.1.0"


@dataclass(slots=True)
class SpanEventRecord:
    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanLinkRecord:
    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """One finished span: ids are lower-case hex (32 and 16 digits), times are ns since the epoch."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service_name: str
    resource: dict[str, str]
    attributes: Attributes
    start_ns: int
    end_ns: int
    status_code: str = STATUS_UNSET
    status_message: str = ""
    events: list[SpanEventRecord] = field(default_factory=list)
    links: list[SpanLinkRecord] = field(default_factory=list)
    scope_name: str = SCOPE_NAME
    scope_version: str = SCOPE_VERSION

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def attribute_text(value: AttrValue) -> str:
    """An attribute value as the clickhouseexporter stores it (pcommon ``Value.AsString``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return json.dumps(list(value), separators=(",", ":"))


def text_map(attributes: Attributes) -> dict[str, str]:
    """Attributes as ClickHouse ``Map(String, String)`` values (strings pass through untouched)."""
    return {key: value if type(value) is str else attribute_text(value) for key, value in attributes.items()}
