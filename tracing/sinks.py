"""Where span records go: OTLP through the OpenTelemetry SDK exporter, or straight into ClickHouse.

* :func:`to_readable_spans` / :class:`OtlpSink` turn records into SDK ``ReadableSpan`` s with their
  recorded start/end times and export them with any ``SpanExporter`` (``OTLPSpanExporter`` over
  HTTP/protobuf by default) - the path real services take.
* :func:`write_to_store` inserts records into ``otel_traces`` column by column, exactly as the
  Collector's clickhouseexporter would store them - the fast path for tests and benchmarks.

ClickHouse is only needed by ``write_to_store`` (a ``storage.Store`` is passed in), so importing this
module does not import a ClickHouse client.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from storage.errors import TowerError
from storage.schema import OTEL_TRACES_COLUMNS
from tracing.otlp_http import EmitError, OtlpHttp, TooLarge
from tracing.records import SCOPE_NAME, SpanRecord, text_map

if TYPE_CHECKING:
    from storage import Store
    from tracing.otlp_grpc import OtlpGrpc
    from tracing.simulator import SimulatorConfig

T = TypeVar("T")


_KINDS = {
    "Internal": SpanKind.INTERNAL,
    "Server": SpanKind.SERVER,
    "Client": SpanKind.CLIENT,
    "Producer": SpanKind.PRODUCER,
    "Consumer": SpanKind.CONSUMER,
}
_STATUS = {"Unset": StatusCode.UNSET, "Ok": StatusCode.OK, "Error": StatusCode.ERROR}


class SinkError(TowerError, RuntimeError):
    """The exporter did not accept a batch (after its own retries)."""


# -- ClickHouse -------------------------------------------------------------------------------


def write_to_store(
    store: Store,
    records: Iterable[SpanRecord],
    *,
    table: str = "otel_traces",
    batch_size: int = 100_000,
    attribute: bool = True,
) -> int:
    """Insert records into ``otel_traces`` (one insert per ``batch_size`` spans); returns spans written.

    With ``attribute`` (the default) the attribution step runs after each insert, as the collector
    does after each write, so the spans are on their orders' timelines when this returns.
    """
    from tracing.attribution import attribute_window

    written = 0
    for batch in _batches(records, batch_size):
        began = store.now() if attribute else None
        written += store.insert(table, _columns(batch), OTEL_TRACES_COLUMNS, column_oriented=True)
        if began is not None:
            attribute_window(store, began - timedelta(seconds=1), store.now())
    return written


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _columns(batch: Sequence[SpanRecord]) -> list[list[Any]]:
    resources: dict[int, dict[str, str]] = {}
    cols: list[list[Any]] = [[] for _ in OTEL_TRACES_COLUMNS]
    (ts, tid, sid, psid, tstate, name, kind, service, res, scope, scope_v, attrs, dur, status, msg,
     ev_ts, ev_name, ev_attrs, ln_tid, ln_sid, ln_state, ln_attrs) = cols  # fmt: skip
    for r in batch:
        ts.append(r.start_ns)
        tid.append(r.trace_id)
        sid.append(r.span_id)
        psid.append(r.parent_span_id)
        tstate.append("")
        name.append(r.name)
        kind.append(r.kind)
        service.append(r.service_name)
        resource = resources.get(id(r.resource))
        if resource is None:
            resource = resources[id(r.resource)] = dict(r.resource)
        res.append(resource)
        scope.append(r.scope_name)
        scope_v.append(r.scope_version)
        attrs.append(text_map(r.attributes))
        dur.append(r.end_ns - r.start_ns)
        status.append(r.status_code)
        msg.append(r.status_message)
        ev_ts.append([e.time_ns for e in r.events])
        ev_name.append([e.name for e in r.events])
        ev_attrs.append([text_map(e.attributes) for e in r.events])
        ln_tid.append([link.trace_id for link in r.links])
        ln_sid.append([link.span_id for link in r.links])
        ln_state.append(["" for _ in r.links])
        ln_attrs.append([text_map(link.attributes) for link in r.links])
    return cols


COPY_SCOPE_NAME = SCOPE_NAME + ".copy"


def replicate_in_store(
    store: Store,
    copies: int,
    *,
    first: int = 1,
    copies_per_insert: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy the simulated spans already in the store ``copies`` times inside ClickHouse.

    Each copy gets fresh trace/span ids and keys suffixed ``-c<n>`` (see
    ``tracing/queries/replicate_simulated_spans.sql``): benchmark-scale data in seconds, with the
    simulator's shape. Returns the spans written; ``progress(copies_done, copies)`` after each insert.
    """
    from storage import SqlFiles
    from tracing.conventions import KEY_ATTRIBUTES

    sql = SqlFiles("tracing.queries")["replicate_simulated_spans"]
    from tracing.attribution import attribute_window

    count_sql = "SELECT count() FROM otel_traces WHERE ScopeName = {scope:String}"
    before = int(store.scalar(count_sql, {"scope": COPY_SCOPE_NAME}))
    began = store.now()
    done = 0
    while done < copies:
        step = min(copies_per_insert, copies - done)
        store.command(
            sql,
            {
                "first": first + done,
                "count": step,
                "scope": SCOPE_NAME,
                "copy_scope": COPY_SCOPE_NAME,
                "keys": list(KEY_ATTRIBUTES),
            },
        )
        done += step
        if progress is not None:
            progress(done, copies)
    attribute_window(store, began - timedelta(seconds=1), store.now())
    return int(store.scalar(count_sql, {"scope": COPY_SCOPE_NAME})) - before


def fill_store(
    store: Store,
    spans: int,
    *,
    config: SimulatorConfig | None = None,
    base_orders: int = 20_000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """At least ``spans`` simulator-shaped spans in the store, fast: a simulated base history written
    with :func:`write_to_store`, then copied inside ClickHouse. Returns what was written and how fast."""
    from tracing.simulator import Simulator, SimulatorConfig

    say = progress or (lambda _message: None)
    base_config = config or SimulatorConfig()
    started = time.perf_counter()
    probe = list(Simulator(replace(base_config, orders=min(base_orders, 500))).generate())
    per_order = max(len(probe) / min(base_orders, 500), 1.0)
    orders = max(1, min(base_orders, math.ceil(spans / per_order)))
    records = list(Simulator(replace(base_config, orders=orders)).generate())
    generated_s = time.perf_counter() - started
    say(f"generated {len(records):,} spans of {orders:,} orders in {generated_s:.1f}s")
    written = write_to_store(store, records)
    base_s = time.perf_counter() - started
    say(f"wrote the base history in {base_s - generated_s:.1f}s")
    copies = max(0, math.ceil(spans / max(written, 1)) - 1)
    copied = replicate_in_store(
        store,
        copies,
        progress=lambda done, total: say(f"copied {done} of {total} ({time.perf_counter() - started:.0f}s)"),
    )
    total_s = time.perf_counter() - started
    return {
        "base_orders": orders,
        "base_spans": written,
        "copies": copies,
        "spans": written + copied,
        "orders": orders * (copies + 1),
        "generate_seconds": round(generated_s, 2),
        "base_write_seconds": round(base_s - generated_s, 2),
        "copy_seconds": round(total_s - base_s, 2),
        "seconds": round(total_s, 2),
        "spans_per_second": round((written + copied) / total_s) if total_s > 0 else None,
    }


# -- OpenTelemetry SDK ------------------------------------------------------------------------


def to_readable_spans(records: Iterable[SpanRecord]) -> Iterator[ReadableSpan]:
    """SDK spans with the records' own ids and times, ready for any ``SpanExporter``."""
    resources: dict[int, Resource] = {}
    scopes: dict[tuple[str, str], InstrumentationScope] = {}
    flags = TraceFlags(TraceFlags.SAMPLED)
    for r in records:
        resource = resources.get(id(r.resource))
        if resource is None:
            resource = resources[id(r.resource)] = Resource.create(r.resource)
        scope = scopes.get((r.scope_name, r.scope_version))
        if scope is None:
            scope = scopes[(r.scope_name, r.scope_version)] = InstrumentationScope(
                r.scope_name, r.scope_version
            )
        trace_id = int(r.trace_id, 16)
        parent = (
            SpanContext(trace_id, int(r.parent_span_id, 16), is_remote=False, trace_flags=flags)
            if r.parent_span_id
            else None
        )
        status = _STATUS.get(r.status_code, StatusCode.UNSET)
        yield ReadableSpan(
            name=r.name,
            context=SpanContext(trace_id, int(r.span_id, 16), is_remote=False, trace_flags=flags),
            parent=parent,
            resource=resource,
            attributes=dict(r.attributes),
            events=[Event(e.name, dict(e.attributes), timestamp=e.time_ns) for e in r.events],
            links=[
                Link(
                    SpanContext(
                        int(link.trace_id, 16), int(link.span_id, 16), is_remote=True, trace_flags=flags
                    ),
                    dict(link.attributes),
                )
                for link in r.links
            ],
            kind=_KINDS.get(r.kind, SpanKind.INTERNAL),
            status=Status(status, r.status_message if status is StatusCode.ERROR else None),
            start_time=r.start_ns,
            end_time=r.end_ns,
            instrumentation_scope=scope,
        )


class OtlpSink:
    """Exports records in batches over OTLP/HTTP protobuf (default) or gRPC, or to a given ``SpanExporter``.

    Batches are exported synchronously: a batch that is not acknowledged after the retries raises
    :class:`SinkError` (nothing is dropped silently). The collector's answer is read
    (:class:`tracing.otlp_http.OtlpHttp`, :class:`tracing.otlp_grpc.OtlpGrpc`): spans it rejects in a
    ``partial_success`` raise :class:`SinkError` with its reason; a batch refused as too large is
    split. Counts what was sent.
    """

    def __init__(
        self,
        exporter: SpanExporter | None = None,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        batch_size: int = 512,
        timeout_s: float = 10.0,
        protocol: str = "http",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.client: OtlpHttp | OtlpGrpc | None = None
        if exporter is None:
            if protocol == "http":
                self.client = OtlpHttp(
                    traces_endpoint(endpoint or _default_endpoint()), token or "", timeout_s
                )
            elif protocol == "grpc":
                from tracing.otlp_grpc import OtlpGrpc

                self.client = OtlpGrpc(endpoint or _default_endpoint(4317), token or "", timeout_s)
            else:
                raise ValueError(f"protocol must be http or grpc, got {protocol!r}")
        self.exporter = exporter
        self.batch_size = batch_size
        self.spans_sent = 0
        self.batches_sent = 0

    def send(self, records: Iterable[SpanRecord]) -> int:
        """Export the records; returns how many were sent by this call."""
        sent = 0
        for batch in _batches(to_readable_spans(records), self.batch_size):
            if self.client is not None:
                self._post(batch, self.spans_sent + sent)
            elif self.exporter is not None and self.exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise SinkError(
                    f"the exporter rejected a batch of {len(batch)} spans after {self.spans_sent + sent} were sent"
                )
            sent += len(batch)
            self.batches_sent += 1
        self.spans_sent += sent
        return sent

    def _post(self, batch: Sequence[ReadableSpan], before: int) -> None:
        assert self.client is not None
        try:
            self.client.post(encode_spans(batch).SerializeToString())
        except TooLarge:
            if len(batch) == 1:
                raise SinkError(
                    f"the collector refuses a single span as too large after {before} were sent"
                ) from None
            half = len(batch) // 2
            self._post(batch[:half], before)
            self._post(batch[half:], before + half)
        except EmitError as exc:
            raise SinkError(f"a batch of {len(batch)} spans after {before} were sent: {exc}") from None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        elif self.exporter is not None:
            self.exporter.shutdown()


def _default_endpoint(port: int = 4318) -> str:
    """Where the SDK's exporters would send without an endpoint: the OTEL_EXPORTER_OTLP_* variables,
    else localhost on the protocol's port (HTTP 4318, gRPC 4317)."""
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or f"http://localhost:{port}"
    )


def traces_endpoint(url: str) -> str:
    """``http://host:4318`` -> ``http://host:4318/v1/traces`` (a full ``/v1/traces`` URL is kept)."""
    url = url.rstrip("/")
    return url if url.endswith("/v1/traces") else f"{url}/v1/traces"
