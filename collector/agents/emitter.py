"""Common emitter of the agents: hop descriptions -> real OTLP/HTTP spans, exported synchronously.

An agent acknowledges its source (ledger entry, cursor, HTTP 200) only after :meth:`Emitter.emit`
returned, i.e. after the collector accepted the spans. Span and trace ids are derived from a
*seed* naming the source record (file digest + segment, event id, row cursor), so a record that is
sent again after a crash carries the same ids as the first time.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from storage.errors import TowerError
from tracing import conventions as c

AttrValue = str | bool | int | float | Sequence[str]

AGENT_KIND = "tower.agent.kind"  # resource attribute: edi | carrier | poller


class EmitError(TowerError, RuntimeError):
    """The collector did not accept the spans; the source record must not be acknowledged."""


@dataclass
class AgentHop:
    """One span to emit: a hop, a batch, or an exception, with optional children (same trace)."""

    name: str
    seed: str
    start_ns: int
    end_ns: int
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    error: str | None = None
    events: list[tuple[str, dict[str, AttrValue], int]] = field(default_factory=list)
    children: list[AgentHop] = field(default_factory=list)
    links_to: list[str] = field(default_factory=list)  # seeds of other hops of the same emit
    remote_links: list[SpanContext] = field(default_factory=list)  # e.g. the sender's traceparent
    kind: SpanKind = SpanKind.INTERNAL

    def walk(self) -> Iterator[AgentHop]:
        yield self
        for child in self.children:
            yield from child.walk()


def span_id_for(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(b"span:" + seed.encode()).digest()[:8], "big") or 1


def trace_id_for(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(b"trace:" + seed.encode()).digest()[:16], "big") or 1


_next_ids: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("_next_ids", default=None)


class _SeededIds(IdGenerator):
    """Ids from the seed of the span being started (random when none is set)."""

    _random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        ids = _next_ids.get()
        return ids[1] if ids else self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        ids = _next_ids.get()
        return ids[0] if ids else self._random.generate_trace_id()


class _Collect(SpanProcessor):
    """Keeps ended spans until the emitter exports them itself (so it sees the export result)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def otlp_exporter(endpoint: str, token: str = "", timeout_s: float = 10.0) -> OTLPSpanExporter:
    """OTLP/HTTP exporter to ``<endpoint>/v1/traces`` with a bearer token when one is given."""
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return OTLPSpanExporter(endpoint=url, headers=headers, timeout=timeout_s)


class Emitter:
    """Turns :class:`AgentHop` trees into spans of one service and exports them, raising on failure."""

    def __init__(
        self,
        exporter: SpanExporter,
        service_name: str,
        agent_kind: str,
        resource_attributes: Mapping[str, str] | None = None,
    ) -> None:
        attrs = {c.SERVICE_NAME: service_name, AGENT_KIND: agent_kind, **(resource_attributes or {})}
        self._exporter = exporter
        self._collect = _Collect()
        self._provider = TracerProvider(resource=Resource.create(attrs), id_generator=_SeededIds())
        self._provider.add_span_processor(self._collect)
        self._tracer = self._provider.get_tracer("tower.collector.agents")
        self._lock = threading.Lock()

    def emit(self, hops: Sequence[AgentHop]) -> int:
        """Create and export the spans of ``hops``; returns the span count or raises :class:`EmitError`."""
        if not hops:
            return 0
        with self._lock:
            self._collect.spans = []
            contexts: dict[str, SpanContext] = {}
            for hop in hops:
                for item in hop.walk():
                    contexts[item.seed] = SpanContext(
                        trace_id=trace_id_for(hop.seed),
                        span_id=span_id_for(item.seed),
                        is_remote=False,
                        trace_flags=TraceFlags(TraceFlags.SAMPLED),
                    )
            for hop in hops:
                self._start(hop, None, trace_id_for(hop.seed), contexts)
            spans, self._collect.spans = self._collect.spans, []
            try:
                result = self._exporter.export(spans)
            except Exception as exc:  # an exporter must not raise, but never lose the record if it does
                raise EmitError(f"export of {len(spans)} span(s) failed: {exc}") from exc
            if result is not SpanExportResult.SUCCESS:
                raise EmitError(f"collector did not accept {len(spans)} span(s)")
            return len(spans)

    def _start(
        self,
        hop: AgentHop,
        parent: trace.Span | None,
        trace_id: int,
        contexts: dict[str, SpanContext],
    ) -> None:
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        links = [Link(contexts[s]) for s in hop.links_to if s in contexts]
        links += [Link(ctx) for ctx in hop.remote_links if ctx.is_valid]
        token = _next_ids.set((trace_id, span_id_for(hop.seed)))
        try:
            span = self._tracer.start_span(
                hop.name,
                context=ctx,
                kind=hop.kind,
                attributes=dict(hop.attributes),
                links=links,
                start_time=hop.start_ns,
            )
        finally:
            _next_ids.reset(token)
        for name, attrs, ts in hop.events:
            span.add_event(name, attributes=dict(attrs), timestamp=ts)
        if hop.error:
            span.set_status(Status(StatusCode.ERROR, hop.error))
        for child in hop.children:
            self._start(child, span, trace_id, contexts)
        span.end(end_time=max(hop.end_ns, hop.start_ns))

    def shutdown(self) -> None:
        self._provider.shutdown()
        self._exporter.shutdown()


def now_ns() -> int:
    return time.time_ns()
