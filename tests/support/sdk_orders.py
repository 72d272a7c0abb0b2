"""Order traffic made by hand with the plain OpenTelemetry SDK, in the shapes real systems send.

Not the simulator: each system here is a ``TracerProvider`` with its own resource, exporting with the
SDK's ``OTLPSpanExporter`` over HTTP through ``SimpleSpanProcessor`` (one span per request, sent when
the span ends: children before their parents, as the SDK does) or in batches. Spans are shaped as the
systems of an order-to-cash chain emit them (docs/conventions.md): an EDI gateway's file span with a
``translate 850`` child per purchase order (only the PO and the ST02, no order id yet), the
middleware's batch span listing the canonical order ids and linked to the file, each order's own
trace linking to its translation, carrier webhooks with only a tracking number, invoices with only an
invoice number. Times are explicit (start and end in ns), so scenarios can use hostile ones.

    sender = Sender(collector.http_endpoint)
    ctx = sender.span("erp-west", "allocate", start, end, {"order.id": "SO-1", "order.stage": "allocation"})
    sender.shutdown()
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * SECOND_NS + moment.microsecond * 1000


class RecordingExporter(SpanExporter):
    """The real OTLP exporter, remembering what it sent and whether the collector acknowledged it."""

    def __init__(self, endpoint: str) -> None:
        self.inner = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=30)
        self.sent: list[ReadableSpan] = []
        self.results: list[SpanExportResult] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.results.append(result)
        self.sent.extend(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()


class SeededIds(IdGenerator):
    """Trace and span ids from a seeded generator: the same traffic twice has the same ids."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def generate_span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.rng.getrandbits(128) or 1


@dataclass
class Sender:
    """One TracerProvider per system (resource ``service.name`` = the system), all exporting to
    ``endpoint``: each span is one OTLP request, acknowledged before :meth:`span` returns. With
    ``seed`` the ids are reproducible (the same traffic sent twice has the same ids)."""

    endpoint: str
    seed: int | None = None
    exporter: RecordingExporter = field(init=False)
    _providers: dict[str, TracerProvider] = field(default_factory=dict, init=False)
    _ids: IdGenerator | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.exporter = RecordingExporter(self.endpoint)
        self._ids = SeededIds(self.seed) if self.seed is not None else None

    def _tracer(self, service: str) -> trace.Tracer:
        provider = self._providers.get(service)
        if provider is None:
            provider = TracerProvider(
                resource=Resource.create({"service.name": service}), id_generator=self._ids
            )
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self._providers[service] = provider
        return provider.get_tracer("order-traffic", "1.0")

    def span(
        self,
        service: str,
        name: str,
        start_ns: int,
        end_ns: int,
        attributes: dict[str, Any],
        *,
        parent: SpanContext | None = None,
        links: Sequence[SpanContext] = (),
        error: str = "",
        events: Sequence[tuple[int, str, dict[str, Any]]] = (),
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> SpanContext:
        """Start and end one span (exported, and acknowledged, when it ends); returns its context."""
        context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
        span = self._tracer(service).start_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            links=[Link(link) for link in links],
            start_time=start_ns,
        )
        for at, event, event_attributes in events:
            span.add_event(event, event_attributes, timestamp=at)
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        sent = len(self.exporter.results)
        span.end(end_time=end_ns)
        results = self.exporter.results[sent:]
        assert results == [SpanExportResult.SUCCESS], f"the collector did not acknowledge {name!r}: {results}"
        return span.get_span_context()

    def open_span(
        self,
        service: str,
        name: str,
        start_ns: int,
        attributes: dict[str, Any],
        *,
        parent: SpanContext | None = None,
        links: Sequence[SpanContext] = (),
    ) -> trace.Span:
        """A span that ends later (its children end, and are sent, first — as in real services)."""
        context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
        return self._tracer(service).start_span(
            name, context=context, attributes=attributes, links=[Link(c) for c in links], start_time=start_ns
        )

    def end(self, span: trace.Span, end_ns: int) -> SpanContext:
        sent = len(self.exporter.results)
        span.end(end_time=end_ns)
        assert self.exporter.results[sent:] == [SpanExportResult.SUCCESS]
        return span.get_span_context()

    def resend(self, spans: Sequence[ReadableSpan], *, per_request: int = 1) -> None:
        """Send spans again, unchanged (same trace and span ids): an at-least-once sender's retry."""
        exporter = OTLPSpanExporter(endpoint=self.endpoint.rstrip("/") + "/v1/traces", timeout=30)
        try:
            for i in range(0, len(spans), per_request):
                assert exporter.export(spans[i : i + per_request]) == SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()

    @property
    def sent(self) -> list[ReadableSpan]:
        return self.exporter.sent

    def shutdown(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()


def hop(stage: str, system: str, kind: str, **attributes: Any) -> dict[str, Any]:
    """The attributes of a hop span: its stage and system, plus ``attributes``."""
    return {"order.stage": stage, "system.kind": kind, "system.instance": system, **attributes}


# -- an 850 file with several purchase orders ------------------------------------------------------


@dataclass
class EdiFile:
    """What :func:`send_edi_file` sent: the orders, their POs and ST02s, and the span contexts."""

    file_name: str
    isa: str
    gs: str
    batch_id: str
    orders: list[str]
    pos: dict[str, str]
    st02: dict[str, str]
    translations: dict[str, SpanContext] = field(default_factory=dict)
    file_span: SpanContext | None = None
    batch_span: SpanContext | None = None
    reprocessed: dict[str, SpanContext] = field(default_factory=dict)


def send_edi_file(
    sender: Sender,
    start_ns: int,
    orders: list[str],
    *,
    failed: Sequence[str] = (),
    reprocess_after_ns: int = 3 * HOUR_NS,
    resumed_after_ns: int = 10 * MINUTE_NS,
    tag: str = "",
    orders_first: bool = False,
) -> EdiFile:
    """An 850 file from a trading partner carrying one purchase order per order, as three systems send it:

    * the EDI gateway's file trace: ``receive 850 file`` (``order.batch.id`` = file name, ISA13, GS06)
      with a ``translate 850`` child per PO (PO and ST02 only; for ``failed`` orders an ``Error`` with
      an ``edi_mapping`` exception) and a ``send 997`` child for the file;
    * for each failed PO an EDI analyst's ``reprocess 850`` (a new trace: manual touch, the
      ``edi_mapping`` exception resolved, linked to the failed translation);
    * the middleware's batch trace: ``split 850 batch`` listing the canonical order ids, linked to the
      file span; then each order's own trace, ``map canonical order`` (order id, PO, ST02) linked to
      its translation (or reprocess) and to the batch span, and the ERP's credit check.

    With ``orders_first`` the middleware and order traces are sent before the gateway's (keys that
    arrive late: the order knows its PO before the translation naming only the PO arrives).
    """
    isa = f"{random.Random(start_ns).randrange(10**8, 10**9):09d}"
    file = EdiFile(
        file_name=f"850_ACME{tag}_{start_ns // SECOND_NS}_{isa}.x12",
        isa=isa,
        gs=str(int(isa) % 100000 + 200000),
        batch_id=f"MWB{tag}-{start_ns // SECOND_NS % 10**6}",
        orders=list(orders),
        pos={o: f"PO{tag}-{o}" for o in orders},
        st02={o: f"{i + 1:04d}{isa[-5:]}" for i, o in enumerate(orders)},
    )
    envelope = {
        "edi.interchange_control_number": file.isa,
        "edi.group_control_number": file.gs,
        "edi.sender_id": "ACME",
        "edi.receiver_id": "DISTRIBUTOR01",
        "order.channel": "edi",
    }

    def open_gateway() -> list[tuple[trace.Span, int]]:
        """Start the gateway's spans (their contexts are known; nothing is sent until they end)."""
        opened: list[tuple[trace.Span, int]] = []
        received = sender.open_span(
            "edi-gateway",
            "receive 850 file",
            start_ns,
            hop(
                "capture",
                "edi-gateway",
                "edi",
                **envelope,
                **{
                    "order.batch.id": file.file_name,
                    "edi.transaction_set": "850",
                    "order.batch.size": len(orders),
                },
            ),
        )
        parent = received.get_span_context()
        file.file_span = parent
        t = start_ns + 2 * SECOND_NS
        for order in orders:
            bad = order in failed
            attrs = hop(
                "capture",
                "edi-gateway",
                "edi",
                **envelope,
                **{
                    "edi.transaction_set": "850",
                    "order.customer_po": file.pos[order],
                    "edi.transaction_set_control_number": file.st02[order],
                    "order.status": "mapping_error" if bad else "translated",
                },
            )
            if bad:
                attrs.update(
                    {
                        "error.type": "edi_map_missing_uom",
                        "order.exception.type": "edi_mapping",
                        "order.exception.outcome": "opened",
                    }
                )
            translation = sender.open_span("edi-gateway", "translate 850", t, attrs, parent=parent)
            if bad:
                translation.set_status(Status(StatusCode.ERROR, "PO1 unit of measure 'CA' has no mapping"))
            file.translations[order] = translation.get_span_context()
            opened.append((translation, t + SECOND_NS // 5))
            t += SECOND_NS // 2
        ack = sender.open_span(
            "edi-gateway",
            "send 997",
            t,
            hop(
                "acknowledge",
                "edi-gateway",
                "edi",
                **envelope,
                **{"order.batch.id": file.file_name, "edi.transaction_set": "997"},
            ),
            parent=parent,
        )
        opened += [(ack, t + SECOND_NS), (received, t + 2 * SECOND_NS)]
        for order in failed:
            at = start_ns + reprocess_after_ns
            reprocess = sender.open_span(
                "edi-gateway",
                "reprocess 850",
                at,
                hop(
                    "capture",
                    "edi-gateway",
                    "edi",
                    **envelope,
                    **{
                        "edi.transaction_set": "850",
                        "order.customer_po": file.pos[order],
                        "edi.transaction_set_control_number": file.st02[order],
                        "order.manual_touch": True,
                        "enduser.id": "edi.analyst@distributor.example",
                        "order.status": "translated",
                        "order.exception.type": "edi_mapping",
                        "order.exception.outcome": "resolved",
                    },
                ),
                links=[file.translations[order]],
            )
            file.reprocessed[order] = reprocess.get_span_context()
            opened.append((reprocess, at + 5 * MINUTE_NS))
        return opened

    def send_gateway(opened: list[tuple[trace.Span, int]]) -> None:
        for span, end_at in opened:  # children end (and are sent) before their parent
            sender.end(span, end_at)

    def middleware() -> None:
        picked = start_ns + 10 * MINUTE_NS
        ok = [o for o in orders if o not in failed]
        if ok:
            file.batch_span = sender.span(
                "middleware",
                "split 850 batch",
                picked,
                picked + 2 * SECOND_NS,
                hop(
                    "validation",
                    "middleware",
                    "middleware",
                    **{
                        "order.channel": "edi",
                        "order.batch.id": file.batch_id,
                        "order.batch.order_ids": ok,
                        "order.batch.size": len(ok),
                        "edi.interchange_control_number": file.isa,
                    },
                ),
                links=[file.file_span] if file.file_span is not None else [],
                kind=SpanKind.CONSUMER,
            )
        for i, order in enumerate(orders):
            if order in failed:  # the middleware picks the reprocessed PO up after resumed_after_ns
                at = start_ns + reprocess_after_ns + 5 * MINUTE_NS + resumed_after_ns
                links = [file.reprocessed[order]]
            else:
                at = picked + (i + 1) * SECOND_NS
                links = [c for c in (file.translations.get(order), file.batch_span) if c is not None]
            canonical = sender.span(
                "middleware",
                "map canonical order",
                at,
                at + SECOND_NS,
                hop(
                    "validation",
                    "middleware",
                    "middleware",
                    **{
                        "order.id": order,
                        "order.channel": "edi",
                        "order.customer_po": file.pos[order],
                        "edi.transaction_set_control_number": file.st02[order],
                        "edi.interchange_control_number": file.isa,
                        "customer.id": "C-ACME",
                    },
                ),
                links=links,
            )
            sender.span(
                "erp-east",
                "credit check",
                at + 5 * SECOND_NS,
                at + 8 * SECOND_NS,
                hop("credit", "erp-east", "erp", **{"order.id": order, "order.status": "approved"}),
                parent=canonical,
            )

    opened = open_gateway()
    if orders_first:
        middleware()
        send_gateway(opened)
    else:
        send_gateway(opened)
        middleware()
    return file


# -- a plain order, hop by hop --------------------------------------------------------------------


@dataclass
class PlainOrder:
    order_id: str
    web_id: str
    shipment: str
    tracking: str
    invoice: str
    hops: list[tuple[str, str]] = field(default_factory=list)  # (stage, system) as sent


def order_keys(order_id: str) -> PlainOrder:
    n = sum(ord(ch) for ch in order_id)
    return PlainOrder(
        order_id=order_id,
        web_id=f"W-{order_id}",
        shipment=f"SH-{order_id}",
        tracking=f"1Z{n:06d}{order_id[-4:].upper()}",
        invoice=f"INV-{order_id}",
    )


def plain_order_steps(order: PlainOrder, start_ns: int, *, erp: str = "erp-east") -> list[dict[str, Any]]:
    """The hops of an ecommerce order as its systems send them, one span each: web checkout (order id
    and web id), middleware, ERP credit and allocation, WMS pick and ship (shipment and tracking
    number), the carrier's delivery webhook (only the tracking number), and the finance ERP's
    invoice (only the invoice number, linked to nothing)."""
    t = start_ns
    oid = order.order_id

    def step(
        service: str, name: str, offset_ns: int, duration_ns: int, attrs: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "service": service,
            "name": name,
            "start": t + offset_ns,
            "end": t + offset_ns + duration_ns,
            "attrs": attrs,
        }

    return [
        step("web-shop", "POST /checkout", 0, SECOND_NS, hop("capture", "web-shop", "ecommerce", **{"order.id": oid, "order.ecommerce_id": order.web_id, "order.channel": "ecommerce", "customer.id": "C-7"})),
        step("middleware", "orders.inbound process", 3 * MINUTE_NS, 2 * SECOND_NS, hop("validation", "middleware", "middleware", **{"order.id": oid})),
        step(erp, "credit check", 20 * MINUTE_NS, 3 * SECOND_NS, hop("credit", erp, "erp", **{"order.id": oid, "order.status": "approved"})),
        step(erp, "allocate inventory", 25 * MINUTE_NS, 4 * SECOND_NS, hop("allocation", erp, "erp", **{"order.id": oid, "warehouse.id": "WH-ATL"})),
        step("wms", "pick", 2 * HOUR_NS, 15 * MINUTE_NS, hop("pick", "wms", "wms", **{"order.id": oid, "warehouse.id": "WH-ATL"})),
        step("wms", "ship confirm", 3 * HOUR_NS, 10 * SECOND_NS, hop("ship", "wms", "wms", **{"order.id": oid, "shipment.id": order.shipment, "shipment.tracking_number": order.tracking, "shipment.carrier": "ups"})),
        step("carrier-ups", "delivery", 30 * HOUR_NS, SECOND_NS, hop("deliver", "carrier-ups", "carrier", **{"shipment.tracking_number": order.tracking, "order.status": "delivered"})),
        step("finance-cloud", "post invoice", 31 * HOUR_NS, SECOND_NS // 5, hop("invoice", "finance-cloud", "finance", **{"invoice.id": order.invoice, "order.id": oid, "order.status": "invoiced"})),
    ]  # fmt: skip


def send_step(sender: Sender, step: dict[str, Any], parent: SpanContext | None = None) -> SpanContext:
    return sender.span(
        step["service"], step["name"], step["start"], step["end"], step["attrs"], parent=parent
    )


def mixed_traffic(sender: Sender, start_ns: int, orders: int, seed: int) -> list[str]:
    """``orders`` orders of independent traffic: plain ecommerce orders (some held for credit by a
    person, some backordered), consolidated invoices naming no order, and EDI files of three POs
    (one mapping failure reprocessed by an analyst). Returns the order ids."""
    rng = random.Random(seed)
    made: list[str] = []
    t = start_ns
    i = 0
    while len(made) < orders:
        i += 1
        t += rng.randrange(5, 40) * MINUTE_NS + rng.randrange(SECOND_NS)
        if i % 4 == 0 and orders - len(made) >= 3:
            ids = [f"SO-{seed}-{i}-{k}" for k in range(3)]
            send_edi_file(sender, t, ids, failed=[ids[1]] if i % 8 == 0 else [], tag=f"-{seed}-{i}")
            made += ids
            continue
        order = order_keys(f"SO-{seed}-{i}")
        steps = plain_order_steps(order, t, erp=rng.choice(["erp-east", "erp-west"]))
        if i % 5 == 0:  # a credit hold released by a person
            steps[2]["attrs"].update(
                {"order.manual_touch": True, "enduser.id": "credit.desk", "order.status": "released"}
            )
            steps[2]["end"] = steps[2]["start"] + 40 * MINUTE_NS
        if i % 7 == 0:  # backordered: the exception opens at allocation and restock resolves it
            steps[3]["attrs"].update(
                {
                    "order.status": "backordered",
                    "order.exception.type": "backorder",
                    "order.exception.outcome": "opened",
                }
            )
            steps[4]["attrs"].update(
                {"order.exception.type": "backorder", "order.exception.outcome": "auto_resolved"}
            )
        if i % 3 == 0:  # consolidated billing: the invoice names no order, only its number
            del steps[7]["attrs"]["order.id"]
            steps[5]["attrs"]["invoice.id"] = order.invoice
        for step in steps:
            send_step(sender, step)
        made.append(order.order_id)
    return made


def as_of(start_ns: int, days: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(start_ns / SECOND_NS, UTC) + timedelta(days=days)
