"""EDI X12 file agent: hand-written interchanges -> spans with keys; hostile files quarantined."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from collector.agents.edi import EDI_ACK_REJECTED, EdiAgent
from collector.agents.emitter import Emitter, otlp_exporter
from collector.agents.settings import EdiAgentSettings
from tracing import conventions as c


def make_agent(tmp_path: Path, make_emitter: Any, **overrides: Any) -> EdiAgent:
    settings = EdiAgentSettings(
        inbound_dirs=[tmp_path / "in"],
        outbound_dirs=[tmp_path / "out"],
        settle_s=overrides.pop("settle_s", 0),
        **overrides,
    )
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    (tmp_path / "out").mkdir(parents=True, exist_ok=True)
    return EdiAgent(settings, make_emitter(), tmp_path / "state")


def by_set(sink: Any, code: str) -> list[Any]:
    return [
        s for s in sink.spans if s.attributes.get(c.EDI_TRANSACTION_SET) == code and "rejection" not in s.name
    ]


def test_each_transaction_set_yields_its_spans_and_keys(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any
) -> None:
    agent = make_agent(tmp_path, make_emitter)
    drop("850_two_orders.x12", tmp_path / "in")
    drop("997_rejects_855.x12", tmp_path / "in")
    drop("855_ack.x12", tmp_path / "out")
    drop("856_asn.x12", tmp_path / "out")
    drop("810_invoice.x12", tmp_path / "out")

    report = agent.scan_once()

    assert sorted(report.processed) == sorted(
        ["850_two_orders.x12", "997_rejects_855.x12", "855_ack.x12", "856_asn.x12", "810_invoice.x12"]
    )
    assert report.quarantined == []
    # interchange (batch) spans: one per file, carrying the ISA13 and the POs of its orders
    batches = {s.attributes[c.EDI_INTERCHANGE_CONTROL_NUMBER]: s for s in sink.named("EDI interchange")}
    assert set(batches) == {"000000101", "000000111", "000000202", "000000303", "000000404"}
    po_batch = batches["000000101"]
    assert po_batch.attributes[c.ORDER_CUSTOMER_PO] == ["PO-77120", "PO-77121"]
    assert po_batch.attributes[c.BATCH_SIZE] == "2"  # otel_traces keeps attribute values as text
    assert po_batch.attributes[c.BATCH_ID] == "edi:ACMERETAIL:000000101"
    assert po_batch.attributes["edi.direction"] == "inbound"
    assert po_batch.resource[c.SERVICE_NAME] == "edi-gateway"

    pos = by_set(sink, "850")
    assert sorted(s.attributes[c.ORDER_CUSTOMER_PO] for s in pos) == ["PO-77120", "PO-77121"]
    for span in pos:
        assert span.parent_span_id == po_batch.span_id and span.trace_id == po_batch.trace_id
        assert span.attributes[c.STAGE] == "capture"
        assert span.attributes[c.SYSTEM_KIND] == "edi"
        assert span.attributes[c.EDI_GROUP_CONTROL_NUMBER] == "101"
        assert span.attributes[c.EDI_SENDER_ID] == "ACMERETAIL"
    assert sorted(s.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] for s in pos) == ["0001", "0002"]

    (ack,) = by_set(sink, "855")
    assert ack.attributes[c.ORDER_ID] == "SO-104233"  # BAK08
    assert ack.attributes[c.ORDER_CUSTOMER_PO] == "PO-77120"
    assert ack.attributes[c.STAGE] == "acknowledge"
    assert ack.attributes[c.STATUS] == "accepted_with_changes"

    (asn,) = by_set(sink, "856")
    assert asn.attributes[c.SHIPMENT_ID] == "SH-55012"
    assert asn.attributes[c.SHIPMENT_TRACKING_NUMBER] == ["1Z999AA10123456784", "1Z999AA10123456795"]
    assert asn.attributes[c.ORDER_CUSTOMER_PO] == "PO-77120"
    assert asn.attributes[c.SHIPMENT_CARRIER] == "UPSN"
    assert asn.attributes[c.STAGE] == "ship"
    assert batches["000000303"].attributes[c.BATCH_ORDER_IDS] == ["SO-104233"]

    (invoice,) = by_set(sink, "810")
    assert invoice.attributes[c.INVOICE_ID] == "INV-90017"
    assert invoice.attributes[c.ORDER_CUSTOMER_PO] == "PO-77120"
    assert invoice.attributes[c.STAGE] == "invoice"

    (fa,) = by_set(sink, "997")
    assert fa.attributes["edi.ack.code"] == "R"
    assert fa.attributes[EDI_ACK_REJECTED] == ["0001"]
    (rejection,) = sink.named("EDI 997 rejection")
    assert rejection.parent_span_id == fa.span_id
    assert rejection.attributes[c.EXCEPTION_TYPE] == "edi_rejected"
    assert rejection.attributes[c.EXCEPTION_OUTCOME] == "opened"
    assert rejection.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] == "0001"
    assert rejection.attributes[c.EDI_GROUP_CONTROL_NUMBER] == "202"
    assert rejection.status_code == 2  # ERROR
    assert "rejected 855 transaction set 0001 of group 202" in rejection.status_message


def test_accepting_997_has_no_exception(tmp_path: Path, sink: Any, make_emitter: Any, drop: Any) -> None:
    agent = make_agent(tmp_path, make_emitter)
    drop("997_accepts_856.x12", tmp_path / "in")
    assert agent.scan_once().processed == ["997_accepts_856.x12"]
    (fa,) = by_set(sink, "997")
    assert fa.attributes[c.STATUS] == "accepted"
    assert not sink.named("EDI 997 rejection")
    assert all(s.status_code != 2 for s in sink.spans)


def test_envelope_mismatches_become_exception_spans(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any
) -> None:
    agent = make_agent(tmp_path, make_emitter)
    drop("mismatched_control_numbers.x12", tmp_path / "in")
    report = agent.scan_once()
    assert report.processed == ["mismatched_control_numbers.x12"]  # readable: processed, not quarantined
    errors = sink.named("EDI envelope error")
    messages = sorted(e.status_message for e in errors)
    assert len(errors) == 5
    assert all(e.attributes[c.EXCEPTION_TYPE] == "edi_envelope" for e in errors)
    joined = "\n".join(messages)
    assert "ISA13/IEA02 control number mismatch: IEA id=000000999 does not match ISA id=000000105" in joined
    assert "GS06/GE02 control number mismatch" in joined
    assert "GE01 transaction set count is wrong" in joined
    assert "ST02/SE02 control number mismatch" in joined
    assert "SE01 segment count is wrong: SE count of 9 for SE02=0002 is wrong. I count 5" in joined
    levels = sorted(e.attributes["edi.envelope.level"] for e in errors)
    assert levels == ["group", "group", "interchange", "transaction", "transaction"]
    # the purchase order itself is still reported, and the batch span carries the error
    (po,) = by_set(sink, "850")
    assert po.attributes[c.ORDER_CUSTOMER_PO] == "PO-77130"
    (batch,) = sink.named("EDI interchange")
    assert batch.status_code == 2


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("truncated.x12", "truncated: data without a segment terminator '~' after segment 4"),
        ("wrong_delimiters.x12", "invalid segment id 'GS|PO|ACMERETAIL|DIS' (wrong delimiters?"),
    ],
)
def test_malformed_files_are_quarantined_with_a_reason(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any, fixture: str, reason: str
) -> None:
    agent = make_agent(tmp_path, make_emitter)
    drop(fixture, tmp_path / "in")
    drop("810_invoice.x12", tmp_path / "out")  # a good file in the same scan is still processed
    report = agent.scan_once()
    assert report.quarantined == [fixture]
    assert report.processed == ["810_invoice.x12"]
    assert not (tmp_path / "in" / fixture).exists()
    quarantined = tmp_path / "state" / "quarantine" / fixture
    assert quarantined.read_bytes() == (Path(__file__).parent / "fixtures" / fixture).read_bytes()
    text = (tmp_path / "state" / "quarantine" / f"{fixture}.reason.txt").read_text()
    assert reason in text
    assert {s.attributes.get(c.INVOICE_ID) for s in by_set(sink, "810")} == {"INV-90017"}
    # the partner drops the same bad file again: quarantined again, never silently left behind
    drop(fixture, tmp_path / "in")
    assert agent.scan_once().quarantined == [fixture]
    assert not (tmp_path / "in" / fixture).exists()
    assert len(list((tmp_path / "state" / "quarantine").glob("*.reason.txt"))) == 2


def test_binary_junk_and_non_x12_text_are_quarantined(tmp_path: Path, sink: Any, make_emitter: Any) -> None:
    agent = make_agent(tmp_path, make_emitter)
    (tmp_path / "in" / "junk.bin").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "in" / "hello.txt").write_text("hello, this is not EDI\n")
    (tmp_path / "in" / "empty.x12").write_bytes(b"")
    text = (Path(__file__).parent / "fixtures" / "850_two_orders.x12").read_text()
    (tmp_path / "in" / "v00300.x12").write_text(text.replace("*U*00401*", "*U*00300*", 1))
    report = agent.scan_once()
    assert sorted(report.quarantined) == ["empty.x12", "hello.txt", "junk.bin", "v00300.x12"]
    reasons = {p.name: p.read_text() for p in (tmp_path / "state" / "quarantine").glob("*.reason.txt")}
    assert "binary data" in reasons["junk.bin.reason.txt"]
    assert "does not begin with an ISA segment" in reasons["hello.txt.reason.txt"]
    assert "empty file" in reasons["empty.x12.reason.txt"]
    assert "ISA Interchange Control Version Number is unknown: 00300" in reasons["v00300.x12.reason.txt"]
    assert sink.spans == []


def test_200_mb_file_is_quarantined_unread_by_the_size_limit(
    tmp_path: Path, sink: Any, make_emitter: Any
) -> None:
    agent = make_agent(tmp_path, make_emitter)
    big = tmp_path / "in" / "huge.x12"
    with open(big, "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: quick to make
    report = agent.scan_once()
    assert report.quarantined == ["huge.x12"]
    reason = (tmp_path / "state" / "quarantine" / "huge.x12.reason.txt").read_text()
    assert "209715200 bytes, larger than the limit of 52428800 bytes" in reason


def test_200_mb_file_under_a_raised_limit_is_streamed_not_slurped(
    tmp_path: Path, sink: Any, make_emitter: Any, fixtures_dir: Path
) -> None:
    agent = make_agent(tmp_path, make_emitter, max_file_bytes=300 * 1024 * 1024)
    big = tmp_path / "in" / "huge.x12"
    header = (fixtures_dir / "850_two_orders.x12").read_bytes()[:300]  # ISA, GS and a bit of the ST
    with open(big, "wb") as fh:
        fh.write(header)
        fh.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    try:
        report = agent.scan_once()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.quarantined == ["huge.x12"]
    assert peak < 32 * 1024 * 1024, f"peak {peak} bytes: the file was read whole"
    reason = (tmp_path / "state" / "quarantine" / "huge.x12.reason.txt").read_text()
    assert "binary data at byte 300" in reason


def test_files_still_being_written_are_not_read_early(
    tmp_path: Path, sink: Any, make_emitter: Any, fixtures_dir: Path
) -> None:
    agent = make_agent(tmp_path, make_emitter, settle_s=0.3)
    data = (fixtures_dir / "856_asn.x12").read_bytes()
    partial_named = tmp_path / "out" / "asn.x12.part"
    partial_named.write_bytes(data)  # partial suffix: never read whatever its age
    growing = tmp_path / "out" / "asn2.x12"
    growing.write_bytes(data[:200])  # a truncated interchange, still being written

    assert agent.scan_once().waiting == ["asn2.x12"]
    with open(growing, "ab") as fh:
        fh.write(data[200:400])
    assert agent.scan_once().waiting == ["asn2.x12"]
    with open(growing, "ab") as fh:
        fh.write(data[400:])
    time.sleep(0.35)
    assert agent.scan_once().waiting == ["asn2.x12"]  # changed since the last scan: not yet
    report = agent.scan_once()
    assert report.processed == ["asn2.x12"]
    assert report.quarantined == []
    assert len(by_set(sink, "856")) == 1
    os.rename(partial_named, tmp_path / "out" / "asn.x12")  # the writer finished: renamed into place
    assert agent.scan_once().processed == ["asn.x12"]  # renamed into place with an old mtime: complete


def test_ledger_prevents_reprocessing_across_restarts(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any
) -> None:
    agent = make_agent(tmp_path, make_emitter)
    drop("855_ack.x12", tmp_path / "out")
    assert agent.scan_once().processed == ["855_ack.x12"]
    assert agent.scan_once().processed == []
    agent.ledger.close()
    first = [(s.trace_id, s.span_id) for s in sink.spans]

    restarted = make_agent(tmp_path, make_emitter)  # same state dir: a restart
    assert restarted.scan_once().processed == []
    assert len(sink.spans) == len(first) == 2
    # a different file under the same name is new content: processed
    drop("856_asn.x12", tmp_path / "out", "855_ack.x12")
    assert restarted.scan_once().processed == ["855_ack.x12"]
    assert len(by_set(sink, "856")) == 1


def test_unacknowledged_export_is_retried_and_stored_once(
    tmp_path: Path, scripted: Any, scripted_emitter: Any, drop: Any
) -> None:
    # scripted receiver: the real collector cannot refuse one valid request and accept its retry on demand
    agent = make_agent(tmp_path, scripted_emitter)
    drop("810_invoice.x12", tmp_path / "out")
    scripted.fail_with = 400  # the collector refuses
    report = agent.scan_once()
    assert report.failed == ["810_invoice.x12"] and report.processed == []
    assert (tmp_path / "out" / "810_invoice.x12").exists()
    assert agent.ledger.count() == 0
    scripted.fail_with = None
    assert agent.scan_once().processed == ["810_invoice.x12"]
    assert agent.scan_once().processed == []
    assert len(by_set(scripted, "810")) == 1


def test_a_wrong_collector_token_keeps_the_file_and_stores_nothing(
    tmp_path: Path, sink: Any, drop: Any
) -> None:
    # the real collector answers 401: the file is not acknowledged, nothing reaches the store
    def wrong_token(service: str = "edi-gateway", kind: str = "edi", timeout: float = 5) -> Emitter:
        return Emitter(otlp_exporter(sink.url, "not-the-token", timeout_s=timeout), service, kind)

    agent = make_agent(tmp_path, wrong_token)
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert report.failed == ["810_invoice.x12"] and report.processed == []
    assert (tmp_path / "out" / "810_invoice.x12").exists() and agent.ledger.count() == 0
    assert sink.spans == []


def test_span_ids_are_derived_from_the_file_so_a_resend_is_identical(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any
) -> None:
    a = make_agent(tmp_path / "a", make_emitter)
    b = make_agent(tmp_path / "b", make_emitter)
    drop("850_two_orders.x12", tmp_path / "a" / "in")
    drop("850_two_orders.x12", tmp_path / "b" / "in")
    a.scan_once()
    ids_a = sorted((s.trace_id, s.span_id) for s in sink.spans)
    b.scan_once()
    # the second agent sent the very same spans: stored again with the same ids, so readers count them once
    assert sorted((s.trace_id, s.span_id) for s in sink.spans) == sorted(ids_a * 2)


def test_agent_thread_keeps_running_after_bad_files(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any
) -> None:
    agent = make_agent(tmp_path, make_emitter, poll_s=0.05)
    agent.start()
    try:
        (tmp_path / "in" / "junk.x12").write_bytes(b"\x00\xff" * 100)
        drop("truncated.x12", tmp_path / "in")
        drop("850_two_orders.x12", tmp_path / "in")
        deadline = time.monotonic() + 10
        while len(by_set(sink, "850")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop()
    assert len(by_set(sink, "850")) == 2
    assert sorted(agent.totals.quarantined) == ["junk.x12", "truncated.x12"]


def test_sender_trace_context_in_the_file_becomes_span_links(
    tmp_path: Path, sink: Any, make_emitter: Any, fixtures_dir: Path
) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from tracing.instrument import inject_edi, name_with_context

    sender = SpanContext(0xABC, 0xDEF1, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    ctx = trace.set_span_in_context(NonRecordingSpan(sender))
    document = inject_edi((fixtures_dir / "850_two_orders.x12").read_text(), ctx)
    name = name_with_context("850_two_orders.x12", ctx)
    (tmp_path / "in").mkdir(parents=True)
    (tmp_path / "in" / name).write_text(document)
    agent = make_agent(tmp_path, make_emitter)
    assert agent.scan_once().processed == [name]  # SE01 was recounted by inject_edi: no envelope error
    assert not sink.named("EDI envelope error")
    sender_span = f"{0xDEF1:016x}"
    pos = by_set(sink, "850")
    assert len(pos) == 2 and all(s.links == [sender_span] for s in pos)
    (batch,) = sink.named("EDI interchange")
    assert batch.links == [sender_span]


def test_a_file_that_cannot_be_quarantined_does_not_block_the_others(
    tmp_path: Path, sink: Any, make_emitter: Any, drop: Any
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    agent = make_agent(tmp_path, make_emitter, quarantine_dir=blocked)
    drop("truncated.x12", tmp_path / "in")
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert report.failed == ["truncated.x12"] and report.processed == ["810_invoice.x12"]
    assert (tmp_path / "in" / "truncated.x12").exists()  # kept, tried again next scan


def test_processed_files_can_be_archived(tmp_path: Path, sink: Any, make_emitter: Any, drop: Any) -> None:
    agent = make_agent(tmp_path, make_emitter, archive_dir=tmp_path / "archive")
    drop("856_asn.x12", tmp_path / "out")
    drop("truncated.x12", tmp_path / "in")
    report = agent.scan_once()
    assert report.processed == ["856_asn.x12"] and report.quarantined == ["truncated.x12"]
    assert list((tmp_path / "out").iterdir()) == []
    (archived,) = (tmp_path / "archive").glob("*/856_asn.x12")
    assert archived.read_bytes() == (Path(__file__).parent / "fixtures" / "856_asn.x12").read_bytes()
