"""The instrumentation library, through a real SDK pipeline ending in the in-memory exporter."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Tracer

from tracing import conventions as c
from tracing.instrument import (
    ConventionError,
    ConventionsProcessor,
    ConventionViolation,
    context_from_name,
    context_from_traceparent,
    current_hop,
    extract_edi,
    extract_headers,
    hop,
    inject_edi,
    inject_headers,
    name_with_context,
    record_keys,
    set_strict,
    strip_context,
    traceparent,
)

EDI_850 = (
    "ISA*00*          *00*          *ZZ*PARTNER10001   *ZZ*DISTRIBUTOR01  *261120*1200*U*00401*100000001*0*P*>~\n"
    "GS*PO*PARTNER10001*DISTRIBUTOR01*20261120*1200*200001*X*004010~\n"
    "ST*850*000030001~\n"
    "BEG*00*SA*PO-10001-1**20261120~\n"
    "PO1*1*10*CA*12.50**VP*SKU-1~\n"
    "SE*4*000030001~\n"
    "ST*850*000030002~\n"
    "BEG*00*SA*PO-10001-2**20261120~\n"
    "PO1*1*3*EA*4.00**VP*SKU-2~\n"
    "SE*4*000030002~\n"
    "GE*2*200001~\n"
    "IEA*1*100000001~\n"
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[Tracer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test")
    provider.shutdown()
    set_strict(None)


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    return spans[0]


def test_hop_sets_the_conventions(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConventionViolation)
        with hop(
            "pick",
            system_kind="wms",
            system_instance="wms",
            order_id="SO-1042",
            keys={c.SHIPMENT_ID: "SH-7", c.SHIPMENT_TRACKING_NUMBER: ["1Z1", "1Z2"]},
            channel="edi",
            tracer=tracer,
        ) as h:
            h.status("picked").touch("picker7").exception("stockout", "opened")
    span = only(exporter)
    assert span.name == "pick wms"
    attrs = dict(span.attributes or {})
    assert attrs[c.STAGE] == "pick" and attrs[c.SYSTEM_KIND] == "wms" and attrs[c.SYSTEM_INSTANCE] == "wms"
    assert attrs[c.ORDER_ID] == "SO-1042" and attrs[c.SHIPMENT_TRACKING_NUMBER] == ("1Z1", "1Z2")
    assert attrs[c.MANUAL_TOUCH] is True and attrs[c.ENDUSER_ID] == "picker7"
    assert attrs[c.EXCEPTION_TYPE] == "stockout" and attrs[c.EXCEPTION_OUTCOME] == "opened"
    assert [e.name for e in span.events] == ["order.exception"]
    assert c.CONVENTION_VIOLATIONS not in attrs


def test_unknown_stage_and_kind_are_reported_not_raised(
    tracer: Tracer, exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="tracing.instrument"),
        pytest.warns(ConventionViolation, match="unknown order.stage 'shipping'"),
        hop("shipping", system_kind="mainframe", order_id="SO-1", tracer=tracer),
    ):
        pass
    problems = list(only(exporter).attributes[c.CONVENTION_VIOLATIONS])  # type: ignore[index, arg-type]
    assert any("shipping" in p for p in problems) and any("mainframe" in p for p in problems)
    assert "order convention violation" in caplog.text


def test_missing_order_id_and_keys_is_reported_at_the_end_of_the_hop(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    with (
        pytest.warns(ConventionViolation, match="no order.id and no business key"),
        hop("invoice", system_kind="finance", tracer=tracer),
    ):
        pass
    assert only(exporter).attributes[c.CONVENTION_VIOLATIONS] == (  # type: ignore[index]
        "no order.id and no business key: the span cannot be found from any order",
    )
    exporter.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConventionViolation)
        with hop("invoice", system_kind="finance", tracer=tracer) as h:
            h.keys({c.INVOICE_ID: "INV-9"})  # learnt during the hop: fine
    assert c.CONVENTION_VIOLATIONS not in (only(exporter).attributes or {})


def test_strict_mode_raises(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with (
        pytest.raises(ConventionError, match=r"unknown system\.kind 'mainframe'"),
        hop("pick", system_kind="mainframe", order_id="SO-1", tracer=tracer, strict=True),
    ):
        pass
    assert exporter.get_finished_spans() == ()  # nothing emitted for a rejected hop
    set_strict(True)
    with pytest.raises(ConventionError, match=r"no order\.id"), hop("pick", system_kind="wms", tracer=tracer):
        pass
    assert only(exporter).attributes[c.CONVENTION_VIOLATIONS]  # type: ignore[index]


def test_env_switches_strict_mode(tracer: Tracer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWER_TRACING_STRICT", "1")
    with pytest.raises(ConventionError), hop("nowhere", system_kind="wms", order_id="SO-1", tracer=tracer):
        pass


def test_errors_in_the_hop_are_recorded_and_reraised(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(KeyError), hop("credit", system_kind="erp", order_id="SO-5", tracer=tracer):
        raise KeyError("customer")
    span = only(exporter)
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[c.ERROR_TYPE] == "KeyError"  # type: ignore[index]
    assert [e.name for e in span.events] == ["exception"]


def test_hop_as_decorator_with_current_hop(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    @hop("allocation", system_kind="erp", system_instance="erp-east", tracer=tracer)
    def allocate(order_id: str) -> str:
        handle = current_hop()
        assert handle is not None
        handle.order(order_id).set(c.WAREHOUSE_ID, "WH-ATL")
        return "ok"

    assert allocate("SO-1") == "ok" and allocate("SO-2") == "ok"
    spans = exporter.get_finished_spans()
    assert [s.attributes[c.ORDER_ID] for s in spans] == ["SO-1", "SO-2"]  # type: ignore[index]
    assert current_hop() is None


def test_headers_carry_the_hop_to_the_next_system(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with hop("capture", system_kind="ecommerce", order_id="SO-1", tracer=tracer, kind=SpanKind.PRODUCER):
        headers = inject_headers({"content-type": "application/json"})
    assert headers["traceparent"].startswith("00-")
    received = {k.upper(): v for k, v in headers.items()}  # brokers may change header case
    with hop(
        "validation",
        system_kind="middleware",
        order_id="SO-1",
        tracer=tracer,
        context=extract_headers(received),
    ):
        pass
    producer, consumer = exporter.get_finished_spans()
    assert consumer.parent is not None and producer.context is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.context is not None and consumer.context.trace_id == producer.context.trace_id


def test_file_names_carry_context(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    assert name_with_context("orders.x12") == "orders.x12"  # no active span: unchanged
    with hop("capture", system_kind="edi", keys={c.BATCH_ID: "f1"}, tracer=tracer):
        named = name_with_context("in/850_PARTNER_20261120.x12")
        parent = traceparent()
    assert parent is not None
    assert named.startswith("in/850_PARTNER_20261120__tp-") and named.endswith(".x12")
    assert strip_context(named) == "in/850_PARTNER_20261120.x12"
    ctx = context_from_name(named)
    assert ctx is not None and traceparent(ctx) == parent
    with hop("validation", system_kind="middleware", keys={c.BATCH_ID: "f1"}, tracer=tracer, context=ctx):
        pass
    sender, receiver = exporter.get_finished_spans()
    assert receiver.parent is not None and sender.context is not None
    assert receiver.parent.span_id == sender.context.span_id
    for hostile in ("orders__tp-zz-yy-01.x12", "a" * 10_000, "__tp-" + "0" * 32 + "-" + "0" * 16 + "-01.x12"):
        assert context_from_name(hostile) is None


def test_edi_documents_carry_context_per_transaction_set(tracer: Tracer) -> None:
    assert inject_edi(EDI_850) == EDI_850  # no active span: unchanged
    with hop("capture", system_kind="edi", keys={c.BATCH_ID: "f1"}, tracer=tracer):
        parent = traceparent()
        stamped = inject_edi(EDI_850)
    assert stamped.count(f"REF*ZZ*TRACEPARENT*{parent}~") == 2
    lines = stamped.splitlines()
    assert lines[lines.index("BEG*00*SA*PO-10001-1**20261120~") + 1].startswith("REF*ZZ*TRACEPARENT*")
    assert "SE*5*000030001~" in stamped and "SE*5*000030002~" in stamped  # segment counts updated
    found = extract_edi(stamped)
    assert set(found) == {"000030001", "000030002"}
    assert all(traceparent(ctx) == parent for ctx in found.values())
    with hop("capture", system_kind="edi", keys={c.BATCH_ID: "f2"}, tracer=tracer):
        restamped = inject_edi(stamped)  # a second hop replaces the reference, counts stay right
    assert restamped.count("REF*ZZ*TRACEPARENT*") == 2 and "SE*5*000030001~" in restamped
    assert extract_edi(EDI_850) == {}


def test_edi_extraction_survives_hostile_input() -> None:
    assert extract_edi("") == {}
    assert extract_edi("ST*850~REF*ZZ*TRACEPARENT*not-a-traceparent~SE*3~") == {}
    assert extract_edi("REF*ZZ*TRACEPARENT~~~***~") == {}
    assert context_from_traceparent("00-" + "0" * 32 + "-" + "0" * 16 + "-01") is None  # all-zero ids
    assert context_from_traceparent("x" * 500) is None


def test_record_keys_on_the_current_span_or_a_new_one(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with hop("ship", system_kind="carrier", keys={c.SHIPMENT_TRACKING_NUMBER: "1Z9"}, tracer=tracer):
        record_keys({c.SHIPMENT_ID: "SH-1"}, order_id="SO-3")
    span = only(exporter)
    assert span.attributes[c.SHIPMENT_ID] == "SH-1" and span.attributes[c.ORDER_ID] == "SO-3"  # type: ignore[index]
    exporter.clear()
    context = record_keys({c.INVOICE_ID: "INV-1", c.BATCH_ORDER_IDS: ["SO-1", "SO-2"]}, tracer=tracer)
    span = only(exporter)
    assert span.name == "order.keys" and span.context is not None and span.context.span_id == context.span_id
    assert span.attributes[c.BATCH_ORDER_IDS] == ("SO-1", "SO-2")  # type: ignore[index]


def test_record_keys_rejects_unknown_or_hostile_keys(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with pytest.warns(ConventionViolation, match="not a key attribute"):
        record_keys({"order.colour": "red", c.INVOICE_ID: "INV-2"}, tracer=tracer)
    assert only(exporter).attributes[c.INVOICE_ID] == "INV-2"  # type: ignore[index]
    exporter.clear()
    with pytest.warns(ConventionViolation, match="longer than 256"):
        record_keys({c.SHIPMENT_ID: "S" * 5000}, order_id="SO-1", tracer=tracer)
    assert c.SHIPMENT_ID not in (only(exporter).attributes or {})  # the bad value is not indexed
    with pytest.raises(ConventionError):
        record_keys({c.SHIPMENT_ID: " padded\n"}, tracer=tracer, strict=True)


def test_links_reach_the_span(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with hop("capture", system_kind="edi", keys={c.BATCH_ID: "file-1"}, tracer=tracer) as batch:
        batch_context = batch.span.get_span_context()
    with hop(
        "validation", system_kind="middleware", order_id="SO-9", links=[Link(batch_context)], tracer=tracer
    ):
        pass
    _, second = exporter.get_finished_spans()
    assert [link.context.span_id for link in second.links] == [batch_context.span_id]
    assert second.context is not None and second.context.trace_id != batch_context.trace_id


def test_hop_decorates_async_functions_for_their_whole_run(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    @hop("validation", system_kind="middleware", tracer=tracer)
    async def validate(order_id: str) -> str:
        await asyncio.sleep(0.01)
        handle = current_hop()
        assert handle is not None
        handle.order(order_id)
        await asyncio.sleep(0.01)
        return order_id

    async def main() -> list[str]:
        return list(await asyncio.gather(validate("SO-1"), validate("SO-2")))

    assert asyncio.run(main()) == ["SO-1", "SO-2"]
    spans = exporter.get_finished_spans()
    assert sorted(str((s.attributes or {})[c.ORDER_ID]) for s in spans) == ["SO-1", "SO-2"]
    assert all(
        s.end_time is not None and s.start_time is not None and s.end_time - s.start_time >= 15_000_000
        for s in spans
    )
    assert all(c.CONVENTION_VIOLATIONS not in (s.attributes or {}) for s in spans)


def test_unknown_key_names_are_violations(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with (
        pytest.warns(ConventionViolation, match="order.colour is not a key attribute"),
        hop("pick", system_kind="wms", order_id="SO-1", keys={"order.colour": "red"}, tracer=tracer),
    ):
        pass
    problems = (only(exporter).attributes or {})[c.CONVENTION_VIOLATIONS]
    assert isinstance(problems, tuple) and any("order.colour" in str(p) for p in problems)
    with (
        pytest.raises(ConventionError, match="tracking is not a key attribute"),
        hop("ship", system_kind="carrier", order_id="SO-1", tracer=tracer, strict=True) as h,
    ):
        h.keys({"tracking": "1Z1"})


def test_one_hop_object_can_be_entered_again(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    scope = hop("pack", system_kind="wms", order_id="SO-1", tracer=tracer)
    with scope:
        pass
    with scope as again:
        again.status("packed")
    first, second = exporter.get_finished_spans()
    assert first.context is not None and second.context is not None
    assert first.context.span_id != second.context.span_id
    assert second.attributes[c.STATUS] == "packed"  # type: ignore[index]


def test_conventions_processor_checks_spans_made_without_hop() -> None:
    checker = ConventionsProcessor()
    provider = TracerProvider()
    provider.add_span_processor(checker)
    raw = provider.get_tracer("legacy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConventionViolation)
        with raw.start_as_current_span("GET /health"):
            pass  # not a hop: not checked
        with raw.start_as_current_span(
            "pick", attributes={c.STAGE: "pick", c.SYSTEM_KIND: "wms", c.ORDER_ID: "SO-1"}
        ):
            pass
    with (
        pytest.warns(ConventionViolation, match="teleport"),
        raw.start_as_current_span("beam", attributes={c.STAGE: "teleport", c.SYSTEM_KIND: "wms"}),
    ):
        pass
    provider.shutdown()
    assert [name for name, _ in checker.violations] == ["beam"]
    assert any("no order.id" in p for p in checker.violations[0][1])


def test_key_values_of_the_wrong_type_are_reported_not_crashing(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    with (
        pytest.warns(ConventionViolation, match="key shipment.id must be a string"),
        hop(
            "ship",
            system_kind="wms",
            order_id="SO-1",
            keys={c.SHIPMENT_ID: 12345},  # type: ignore[dict-item]
            tracer=tracer,
        ),
    ):
        pass
    with (
        pytest.warns(ConventionViolation, match="key invoice.id must be a string"),
        hop("invoice", system_kind="finance", order_id="SO-1", tracer=tracer) as h,
    ):
        h.keys({c.INVOICE_ID: 7})  # type: ignore[dict-item]
    assert len(exporter.get_finished_spans()) == 2
