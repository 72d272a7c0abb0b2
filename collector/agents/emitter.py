"""Common emitter of the agents: hop descriptions -> real OTLP/HTTP spans, sent synchronously.

An agent acknowledges its source (ledger entry, cursor, HTTP 200) only after :meth:`Emitter.send`
returned, i.e. after the collector accepted *every* span: a ``partial_success`` with rejected spans,
or a 4xx answer, raises :class:`SpansRejected` (the source record is refused, with the collector's
reason); an unreachable or busy collector, or one refusing the agent's token (401/403), raises
:class:`EmitError` (retry later: the record is not the problem). Span and trace
ids are derived from a *seed* naming the source record (file digest + segment, event id, row
cursor), so a record that is sent again after a crash carries the same ids as the first time.

Spans are the SDK's finished spans (``ReadableSpan``) encoded with its OTLP encoder; the HTTP exchange is
done here because the SDK exporter discards the response (``partial_success`` is invisible to it).
Requests stay under ``max_request_bytes``; a 413 halves them. Before anything is encoded, every
timestamp is checked against the window the store keeps (:class:`TimeWindow`), so a span the
collector would refuse, or could not even decode (before 1970), is refused here with a clear reason.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tracing import conventions as c
from tracing.otlp_http import (
    OtlpHttp,
    SpansRejected,
    TooLarge,
)

log = logging.getLogger(__name__)

AttrValue = str | bool | int | float | Sequence[str]

AGENT_KIND = "tower.agent.kind"  # resource attribute: edi | carrier | poller
_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


@dataclass
class AgentHop:
    """One span to emit: a hop, a batch, or an exception, with optional children (same trace).

    A hop whose parent is sent in another request names it by ``parent_seed`` (and the trace by
    ``trace_seed``): children of a large interchange go out before their interchange span.
    """

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
    parent_seed: str | None = None
    trace_seed: str | None = None

    def walk(self) -> Iterator[AgentHop]:
        yield self
        for child in self.children:
            yield from child.walk()


def span_id_for(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(b"span:" + seed.encode()).digest()[:8], "big") or 1


def trace_id_for(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(b"trace:" + seed.encode()).digest()[:16], "big") or 1


def iso(ns: int) -> str:
    """``ns`` since the epoch as ISO 8601 (UTC), or the raw number when no calendar date has it."""
    try:
        return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError):
        return f"{ns} ns since 1970" if abs(ns) < 10**30 else "a time beyond any calendar date"


@dataclass(frozen=True)
class TimeWindow:
    """Times a span may carry: from ``max_age_s`` before now to ``max_ahead_s`` after it.

    The store drops spans older than its retention and cannot hold times before 1970; the collector
    refuses what lies outside its window. ``clock`` (epoch ns) is injected so tests judge against a
    fixed "now".
    """

    max_age_s: float = 30 * 86400
    max_ahead_s: float = 86400
    clock: Callable[[], int] = time.time_ns

    def problem(self, ns: int, what: str = "time") -> str | None:
        """Why ``ns`` cannot be sent, or None when it can."""
        now = self.clock()
        oldest = max(now - int(self.max_age_s * _NS), 1)
        newest = now + int(self.max_ahead_s * _NS)
        if ns < oldest:
            return (
                f"{what} {iso(ns)} is older than the {self.max_age_s / 86400:g} days the store keeps "
                f"(oldest accepted {iso(oldest)})"
            )
        if ns > newest:
            return f"{what} {iso(ns)} is in the future (latest accepted {iso(newest)})"
        return None


@dataclass
class Encoded:
    """The encoded spans of one source record (a file, a chunk of a file, an event)."""

    body: bytes
    spans: list[ReadableSpan]

    @property
    def count(self) -> int:
        return len(self.spans)


class Emitter:
    """Turns :class:`AgentHop` trees into spans of one service and sends them, raising on any refusal."""

    def __init__(
        self,
        exporter: OtlpHttp,
        service_name: str,
        agent_kind: str,
        resource_attributes: Mapping[str, str] | None = None,
        window: TimeWindow | None = None,
    ) -> None:
        attrs = {c.SERVICE_NAME: service_name, AGENT_KIND: agent_kind, **(resource_attributes or {})}
        self._exporter = exporter
        self.window = window or TimeWindow()
        self._resource = Resource.create(attrs)
        self._scope = InstrumentationScope("tower.collector.agents")
        self.exported = 0
        self.requests = 0

    # -- encoding ---------------------------------------------------------------------------
    def check_times(self, hops: Sequence[AgentHop]) -> None:
        """Raise :class:`SpansRejected` when a hop's time lies outside the window."""
        for hop in hops:
            for item in hop.walk():
                for ns, what in ((item.start_ns, "start"), (max(item.end_ns, item.start_ns), "end")):
                    problem = self.window.problem(ns, f"span {item.name!r} {what}")
                    if problem:
                        raise SpansRejected(problem)
                for name, _attrs, ts in item.events:
                    problem = self.window.problem(ts, f"event {name!r}")
                    if problem:
                        raise SpansRejected(problem)

    def encode(self, hops: Sequence[AgentHop]) -> Encoded:
        """Build and encode the spans of ``hops``; raises :class:`SpansRejected` when they cannot be sent.

        Spans are the SDK's finished spans (``ReadableSpan``) with the ids of their seeds, encoded by
        the SDK's OTLP encoder; no tracer is involved, so nothing global is touched.
        """
        self.check_times(hops)
        contexts: dict[str, SpanContext] = {}
        for hop in hops:
            trace_id = trace_id_for(hop.trace_seed or hop.seed)
            for item in hop.walk():
                contexts[item.seed] = SpanContext(trace_id, span_id_for(item.seed), False, _SAMPLED)
        spans: list[ReadableSpan] = []
        try:
            for hop in hops:
                parent = None
                if hop.parent_seed is not None:
                    parent = SpanContext(
                        trace_id_for(hop.trace_seed or hop.parent_seed),
                        span_id_for(hop.parent_seed),
                        False,
                        _SAMPLED,
                    )
                self._build(hop, parent, contexts, spans)
            body = encode_spans(spans).SerializeToString()
        except Exception as exc:  # an attribute the encoder refuses: this record only
            raise SpansRejected(f"spans could not be encoded: {type(exc).__name__}: {exc}") from exc
        return Encoded(body, spans)

    def _build(
        self,
        hop: AgentHop,
        parent: SpanContext | None,
        contexts: dict[str, SpanContext],
        out: list[ReadableSpan],
    ) -> None:
        context = contexts[hop.seed]
        links = [Link(contexts[s]) for s in hop.links_to if s in contexts]
        links += [Link(ctx) for ctx in hop.remote_links if ctx.is_valid]
        out.append(
            ReadableSpan(
                name=hop.name,
                context=context,
                parent=parent,
                resource=self._resource,
                attributes=dict(hop.attributes),
                events=[Event(name, dict(attrs), ts) for name, attrs, ts in hop.events],
                links=links,
                kind=hop.kind,
                status=Status(StatusCode.ERROR, hop.error) if hop.error else _UNSET,
                start_time=hop.start_ns,
                end_time=max(hop.end_ns, hop.start_ns),
                instrumentation_scope=self._scope,
            )
        )
        for child in hop.children:
            self._build(child, context, contexts, out)

    # -- sending ----------------------------------------------------------------------------
    def send(self, parts: Sequence[Encoded]) -> int:
        """Send encoded parts in requests under the size limit; returns the span count once all were accepted."""
        limit = self._exporter.max_request_bytes
        batch: list[Encoded] = []
        size = 0
        sent = 0
        for part in parts:
            if batch and size + len(part.body) > limit:
                sent += self._post(batch)
                batch, size = [], 0
            batch.append(part)
            size += len(part.body)
        if batch:
            sent += self._post(batch)
        return sent

    def _post(self, batch: list[Encoded]) -> int:
        pieces = batch
        if len(batch) == 1 and len(batch[0].body) > self._exporter.max_request_bytes and batch[0].count > 1:
            pieces = _halves(batch[0])
            return self._post(pieces[:1]) + self._post(pieces[1:])
        try:
            self._exporter.post(b"".join(p.body for p in pieces))  # concatenated requests merge
        except TooLarge as exc:
            if len(pieces) > 1:
                half = len(pieces) // 2
                return self._post(pieces[:half]) + self._post(pieces[half:])
            if pieces[0].count > 1:
                first, second = _halves(pieces[0])
                return self._post([first]) + self._post([second])
            raise SpansRejected(
                f"collector answered 413: one span is larger than it accepts ({exc})"
            ) from None
        count = sum(p.count for p in pieces)
        self.exported += count
        self.requests += 1
        return count

    def emit(self, hops: Sequence[AgentHop]) -> int:
        """Encode and send ``hops``; returns the span count or raises :class:`EmitError`/:class:`SpansRejected`."""
        if not hops:
            return 0
        return self.send([self.encode(hops)])

    def shutdown(self) -> None:
        self._exporter.shutdown()


def _halves(part: Encoded) -> list[Encoded]:
    half = len(part.spans) // 2
    return [
        Encoded(encode_spans(spans).SerializeToString(), spans)
        for spans in (part.spans[:half], part.spans[half:])
    ]


def now_ns() -> int:
    return time.time_ns()
