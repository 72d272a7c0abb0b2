"""The one builder of ``otel_traces`` rows for tests, shaped as the clickhouseexporter writes them.

``SpanRow`` is one stored span; ``insert`` writes rows through the real store so the materialized
views (trace time range, key index, span links, order hops) fire as in production. Ids are
deterministic: the trace id hashes ``trace``, the span id hashes ``key`` (or trace, name and start),
unless ``span`` gives it. Area helpers (order flows for the KPI, web and alert tests, the tracing
scenarios) build their hops with it.

Times come from the tests' clock (``clock.ANCHOR``), never from the wall clock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clock import ANCHOR

from storage import Store
from storage.schema import OTEL_TRACES_COLUMNS
from tracing.attribution import attribute_window

COLUMNS = list(OTEL_TRACES_COLUMNS)


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def trace_id(name: str) -> str:
    return _hex(f"trace:{name}", 32)


def span_id(name: str) -> str:
    return _hex(f"span:{name}", 16)


@dataclass
class SpanRow:
    trace: str
    name: str
    start: datetime
    duration: timedelta
    service: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    status: str = "Unset"
    status_message: str = ""
    events: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (trace id, span id)
    key: str = ""  # unique name of the span within the scenario
    kind: str = "Internal"
    scope: str = "tests"
    span: str = ""  # an explicit span id (hex), else derived from ``key``

    @property
    def trace_id(self) -> str:
        return trace_id(self.trace)

    @property
    def span_id(self) -> str:
        return self.span or span_id(self.key or f"{self.trace}/{self.name}/{self.start.isoformat()}")

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def row(self) -> list[Any]:
        attrs = {k: _stringify(v) for k, v in self.attributes.items()}
        return [
            self.start,
            self.trace_id,
            self.span_id,
            self.parent,
            "",
            self.name,
            self.kind,
            self.service,
            {"service.name": self.service},
            self.scope,
            "1",
            attrs,
            int(self.duration.total_seconds() * 1_000_000) * 1000,
            self.status,
            self.status_message,
            [e[0] for e in self.events],
            [e[1] for e in self.events],
            [e[2] for e in self.events],
            [lk[0] for lk in self.links],
            [lk[1] for lk in self.links],
            ["" for _ in self.links],
            [{} for _ in self.links],
        ]


def _stringify(value: Any) -> str:
    """OTLP values as the exporter stores them: arrays as JSON text, booleans lower case."""
    if isinstance(value, list | tuple):
        return json.dumps([str(v) for v in value])
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def insert(store: Store, spans: list[SpanRow], *, attribute: bool = True) -> int:
    """Insert the rows into otel_traces; then (as the collector does after each write) run the
    attribution step over them, unless ``attribute`` is False."""
    began = store.now()
    written = store.insert("otel_traces", [s.row() for s in spans], COLUMNS)
    if attribute:
        attribute_window(store, began - timedelta(seconds=1), store.now())
    return written


# Scenario days 1..22: day 22 is the anchor's day (a Wednesday), so day 1 is 21 days earlier, inside
# the default 30-day span retention however old the anchor is (one to eight days).
SCENARIO_START = ANCHOR.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=22)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Scenario day ``day`` (1..22) at the given time (UTC), for readable scenarios."""
    assert 1 <= day <= 22, "scenario days are 1..22 (inside the retention, not after the anchor)"
    return SCENARIO_START + timedelta(days=day, hours=hour, minutes=minute, seconds=second)
