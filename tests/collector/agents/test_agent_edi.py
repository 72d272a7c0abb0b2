"""EDI X12 file agent against the real collector: interchanges -> spans with keys; hostile files and
hostile names quarantined with a reason, each file on its own so no file holds back another."""

from __future__ import annotations

import json
import logging
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from support.ports import refused_port

from collector.agents.edi import EDI_ACK_REJECTED, EdiAgent
from collector.agents.emitter import Emitter, TimeWindow
from collector.agents.settings import EdiAgentSettings
from tracing import conventions as c
from tracing.otlp_http import EmitError, otlp_exporter

FIXTURES = Path(__file__).parent / "fixtures"
DAY = 86400


def make_agent(tmp_path: Path, real_collector: Any, service: str, window: dict[str, Any] | None = None,
               emitter: Emitter | None = None, **overrides: Any) -> EdiAgent:  # fmt: skip
    settings = EdiAgentSettings(
        inbound_dirs=[tmp_path / "in"],
        outbound_dirs=[tmp_path / "out"],
        settle_s=overrides.pop("settle_s", 0),
        system_instance=service,
        **overrides,
    )
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    (tmp_path / "out").mkdir(parents=True, exist_ok=True)
    return EdiAgent(
        settings, emitter or real_collector.emitter(service, **(window or {})), tmp_path / "state"
    )


def values(value: str) -> list[str] | str:
    """A stored attribute: arrays are kept as JSON text."""
    return json.loads(value) if value.startswith("[") else value


def by_set(spans: list[Any], code: str) -> list[Any]:
    return [s for s in spans if s.attributes.get(c.EDI_TRANSACTION_SET) == code and "rejection" not in s.name]


def reason_of(tmp_path: Path, name: str) -> str:
    return (tmp_path / "state" / "quarantine" / f"{name}.reason.txt").read_text()


def write_850(path: Path, isa: int, orders: int, lines: int = 3) -> int:
    """One interchange of ``orders`` 850s (004010); returns its segment count."""
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'BIGPARTNER':<15}*ZZ*{'DISTCO':<15}*261126*1200*U*00401*{isa:09d}*0*P*>",
        f"GS*PO*BIGPARTNER*DISTCO*20261126*1200*{isa}*X*004010",
    ]
    for n in range(1, orders + 1):
        body = [f"ST*850*{n:05d}", f"BEG*00*SA*PO-{isa}-{n}**20261126", "N1*ST*DC 4*92*0004"]
        body += [f"PO1*{i}*{i * 2}*EA*4.20**VP*SKU-{i:03d}" for i in range(1, lines + 1)]
        body += [f"CTT*{lines}", f"SE*{len(body) + 2}*{n:05d}"]
        segments += body
    segments += [f"GE*{orders}*{isa}", f"IEA*1*{isa:09d}"]
    path.write_text("~\n".join(segments) + "~\n", encoding="ascii")
    return len(segments)


def set_mtime(path: Path, epoch_seconds: float) -> None:
    os.utime(path, (epoch_seconds, epoch_seconds))


def test_each_transaction_set_yields_its_spans_and_keys(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    drop("850_two_orders.x12", tmp_path / "in")
    drop("997_rejects_855.x12", tmp_path / "in")
    drop("855_ack.x12", tmp_path / "out")
    drop("856_asn.x12", tmp_path / "out")
    drop("810_invoice.x12", tmp_path / "out")

    report = agent.scan_once()

    assert sorted(report.processed) == sorted(
        ["850_two_orders.x12", "997_rejects_855.x12", "855_ack.x12", "856_asn.x12", "810_invoice.x12"]
    )
    assert report.quarantined == [] and report.spans == 12
    spans = real_collector.spans(service)
    batches = {
        s.attributes[c.EDI_INTERCHANGE_CONTROL_NUMBER]: s
        for s in spans
        if s.name.startswith("EDI interchange")
    }
    assert set(batches) == {"000000101", "000000111", "000000202", "000000303", "000000404"}
    po_batch = batches["000000101"]
    assert values(po_batch.attributes[c.ORDER_CUSTOMER_PO]) == ["PO-77120", "PO-77121"]
    assert po_batch.attributes[c.BATCH_SIZE] == "2"
    assert po_batch.attributes[c.BATCH_ID] == "edi:ACMERETAIL:000000101"
    assert po_batch.attributes["edi.direction"] == "inbound"
    assert po_batch.attributes["edi.interchange_version"] == "00401"
    assert po_batch.resource[c.SERVICE_NAME] == service

    pos = by_set(spans, "850")
    assert sorted(s.attributes[c.ORDER_CUSTOMER_PO] for s in pos) == ["PO-77120", "PO-77121"]
    for span in pos:
        assert span.parent_span_id == po_batch.span_id and span.trace_id == po_batch.trace_id
        assert span.attributes[c.STAGE] == "capture"
        assert span.attributes[c.SYSTEM_KIND] == "edi"
        assert span.attributes[c.EDI_GROUP_CONTROL_NUMBER] == "101"
        assert span.attributes[c.EDI_SENDER_ID] == "ACMERETAIL"
        assert span.attributes["edi.transaction_set_version"] == "004010"
    assert sorted(s.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] for s in pos) == ["0001", "0002"]

    (ack,) = by_set(spans, "855")
    assert ack.attributes[c.ORDER_ID] == "SO-104233"  # BAK08
    assert ack.attributes[c.ORDER_CUSTOMER_PO] == "PO-77120"
    assert ack.attributes[c.STAGE] == "acknowledge"
    assert ack.attributes[c.STATUS] == "accepted_with_changes"
    assert ack.attributes["edi.ack.meaning"] == "Acknowledge - With Detail and Change"
    assert ack.status_code != "Error"

    (asn,) = by_set(spans, "856")
    assert asn.attributes[c.SHIPMENT_ID] == "SH-55012"
    assert values(asn.attributes[c.SHIPMENT_TRACKING_NUMBER]) == ["1Z999AA10123456784", "1Z999AA10123456795"]
    assert asn.attributes[c.ORDER_CUSTOMER_PO] == "PO-77120"
    assert asn.attributes[c.SHIPMENT_CARRIER] == "UPSN"
    assert asn.attributes[c.STAGE] == "ship"
    assert values(batches["000000303"].attributes[c.BATCH_ORDER_IDS]) == ["SO-104233"]

    (invoice,) = by_set(spans, "810")
    assert invoice.attributes[c.INVOICE_ID] == "INV-90017"
    assert invoice.attributes[c.ORDER_CUSTOMER_PO] == "PO-77120"
    assert invoice.attributes[c.STAGE] == "invoice"

    (fa,) = by_set(spans, "997")
    assert fa.attributes["edi.ack.code"] == "R" and fa.attributes[c.STATUS] == "rejected"
    assert values(fa.attributes[EDI_ACK_REJECTED]) == ["0001"]
    assert (
        fa.status_code == "Error"
        and "rejected functional group 202 (997 AK9=R: Rejected)" in fa.status_message
    )
    (rejection,) = [s for s in spans if s.name == "EDI 997 rejection"]
    assert rejection.parent_span_id == fa.span_id
    assert rejection.attributes[c.EXCEPTION_TYPE] == "edi_rejected"
    assert rejection.attributes[c.EXCEPTION_OUTCOME] == "opened"
    assert rejection.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] == "0001"
    assert rejection.attributes[c.EDI_GROUP_CONTROL_NUMBER] == "202"
    assert rejection.status_code == "Error"
    assert "rejected 855 transaction set 0001 of group 202 (997 AK5=R: Rejected)" in rejection.status_message


def test_accepting_997_has_no_exception(tmp_path: Path, real_collector: Any, service: str, drop: Any) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    drop("997_accepts_856.x12", tmp_path / "in")
    assert agent.scan_once().processed == ["997_accepts_856.x12"]
    spans = real_collector.spans(service)
    (fa,) = by_set(spans, "997")
    assert fa.attributes[c.STATUS] == "accepted"
    assert all(s.status_code != "Error" for s in spans) and len(spans) == 2


def test_envelope_mismatches_become_exception_spans(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    drop("mismatched_control_numbers.x12", tmp_path / "in")
    assert agent.scan_once().processed == ["mismatched_control_numbers.x12"]  # readable: processed
    spans = real_collector.spans(service)
    errors = [s for s in spans if s.name == "EDI envelope error"]
    assert all(e.attributes[c.EXCEPTION_TYPE] == "edi_envelope" for e in errors)
    joined = "\n".join(sorted(e.status_message for e in errors))
    assert "ISA13/IEA02 control number mismatch: IEA02 000000999 does not match ISA13 000000105" in joined
    assert "GS06/GE02 control number mismatch" in joined
    assert "GE01 transaction set count is wrong" in joined
    assert "ST02/SE02 control number mismatch" in joined
    assert "SE01 segment count is wrong: SE01 says 9 for ST02 0001, the set has 5" in joined
    assert sorted(e.attributes["edi.envelope.level"] for e in errors) == [
        "group", "group", "interchange", "transaction", "transaction"
    ]  # fmt: skip
    (po,) = by_set(spans, "850")
    assert po.attributes[c.ORDER_CUSTOMER_PO] == "PO-77130"
    (batch,) = [s for s in spans if s.name.startswith("EDI interchange")]
    assert batch.status_code == "Error"


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("truncated.x12", "malformed X12: truncated: transaction set 0001 has no SE"),
        ("wrong_delimiters.x12", "malformed X12: segment 2 does not start with a segment id"),
    ],
)
def test_malformed_files_are_quarantined_with_a_reason(
    tmp_path: Path, real_collector: Any, service: str, drop: Any, fixture: str, reason: str
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    drop(fixture, tmp_path / "in")
    drop("810_invoice.x12", tmp_path / "out")  # a good file in the same scan is still processed
    report = agent.scan_once()
    assert report.quarantined == [fixture] and report.processed == ["810_invoice.x12"]
    assert not (tmp_path / "in" / fixture).exists()
    assert (tmp_path / "state" / "quarantine" / fixture).read_bytes() == (FIXTURES / fixture).read_bytes()
    assert reason in reason_of(tmp_path, fixture)
    assert {s.attributes.get(c.INVOICE_ID) for s in by_set(real_collector.spans(service), "810")} == {
        "INV-90017"
    }
    drop(fixture, tmp_path / "in")  # dropped again: quarantined again, never silently left behind
    assert agent.scan_once().quarantined == [fixture]
    assert not (tmp_path / "in" / fixture).exists()
    assert len(list((tmp_path / "state" / "quarantine").glob("*.reason.txt"))) == 2


def test_binary_junk_and_non_x12_text_are_quarantined_without_echoing_them(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    (tmp_path / "in" / "junk.bin").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "in" / "hello.txt").write_text("hello, this is not EDI\n")
    (tmp_path / "in" / "empty.x12").write_bytes(b"")
    text = (FIXTURES / "850_two_orders.x12").read_text()
    (tmp_path / "in" / "v00100.x12").write_text(text.replace("*U*00401*", "*U*00100*", 1))
    report = agent.scan_once()
    assert sorted(report.quarantined) == ["empty.x12", "hello.txt", "junk.bin", "v00100.x12"]
    assert "binary data at byte 0" in reason_of(tmp_path, "junk.bin")
    assert "does not begin with an ISA segment" in reason_of(tmp_path, "hello.txt")
    assert "hello" not in reason_of(tmp_path, "hello.txt").split("\n", 1)[1]
    assert "empty file" in reason_of(tmp_path, "empty.x12")
    assert "ISA12 is not an X12 interchange version this agent reads (00200 to 00801" in reason_of(
        tmp_path, "v00100.x12"
    )
    assert real_collector.spans(service) == []


def test_files_larger_than_the_limit_are_quarantined_unread(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    with open(tmp_path / "in" / "huge.x12", "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: quick to make
    assert agent.scan_once().quarantined == ["huge.x12"]
    assert "209715200 bytes, larger than the limit of 104857600 bytes" in reason_of(tmp_path, "huge.x12")


def test_200_mb_file_under_a_raised_limit_is_streamed_not_slurped(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    agent = make_agent(tmp_path, real_collector, service, max_file_bytes=300 * 1024 * 1024)
    header = (FIXTURES / "850_two_orders.x12").read_bytes()[:300]  # ISA, GS and a bit of the ST
    with open(tmp_path / "in" / "huge.x12", "wb") as fh:
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
    assert "binary data at byte 300" in reason_of(tmp_path, "huge.x12")
    assert real_collector.spans(service) == []


def test_a_file_whose_time_the_store_cannot_keep_never_blocks_the_good_files(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    """mtime 1960 cannot even be encoded; 1972 is older than the retention: refused by the agent itself."""
    agent = make_agent(tmp_path, real_collector, service)
    set_mtime(drop("850_two_orders.x12", tmp_path / "in", "from_1960.x12"), -315619200)  # 1960-01-01
    set_mtime(drop("855_ack.x12", tmp_path / "out", "from_1972.x12"), 70000000)  # 1972-03-21
    drop("856_asn.x12", tmp_path / "out")
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert sorted(report.quarantined) == ["from_1960.x12", "from_1972.x12"]
    assert sorted(report.processed) == ["810_invoice.x12", "856_asn.x12"]
    assert "the file's modification time 1960-01-01T00:00:00Z is older than the 30 days" in reason_of(
        tmp_path, "from_1960.x12"
    )
    assert "1972-03-21" in reason_of(tmp_path, "from_1972.x12")
    assert agent.scan_once().processed == []  # nothing left behind, nothing retried forever
    assert {s.attributes[c.EDI_TRANSACTION_SET] for s in real_collector.spans(service) if c.EDI_TRANSACTION_SET in s.attributes} == {"856", "810"}  # fmt: skip


def test_a_span_the_collector_rejects_sends_its_file_to_quarantine_with_the_collectors_reason(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    """An agent whose own window lets year 2300 through: the real collector refuses the file's spans
    (partial success); the good files of the same request are found and acknowledged."""
    agent = make_agent(tmp_path, real_collector, service, window={"max_ahead_s": 400 * 365 * DAY})
    set_mtime(drop("850_two_orders.x12", tmp_path / "in", "from_2300.x12"), 10413792000)  # 2300-01-01
    drop("856_asn.x12", tmp_path / "out")
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert report.quarantined == ["from_2300.x12"]
    assert sorted(report.processed) == ["810_invoice.x12", "856_asn.x12"]
    reason = reason_of(tmp_path, "from_2300.x12")
    assert "not sent: collector rejected 3 span(s)" in reason and "after the accepted window" in reason
    assert agent.ledger.count() == 2 and agent.ledger.count("quarantined") == 1
    assert agent.scan_once().processed == []


def test_symbolic_links_are_never_followed(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    elsewhere = tmp_path / "elsewhere"
    outside = drop("850_two_orders.x12", elsewhere)
    (tmp_path / "in" / "passwd.x12").symlink_to("/etc/passwd")
    (tmp_path / "in" / "other_dir.x12").symlink_to(outside)
    (tmp_path / "in" / "dangling.x12").symlink_to(tmp_path / "nothing-here")
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert sorted(report.quarantined) == ["dangling.x12", "other_dir.x12", "passwd.x12"]
    assert report.processed == ["810_invoice.x12"]
    passwd_reason = reason_of(tmp_path, "passwd.x12").split("\n")[1]
    assert "symbolic link to a file outside the watched folders: links are never followed" in passwd_reason
    assert "root" not in passwd_reason and "/etc" not in passwd_reason
    assert outside.read_bytes() == (FIXTURES / "850_two_orders.x12").read_bytes()  # the target is untouched
    assert (tmp_path / "state" / "quarantine" / "passwd.x12").is_symlink()  # the link moved, not the file
    assert not by_set(real_collector.spans(service), "850")


def test_file_names_are_escaped_in_logs_and_reasons(
    tmp_path: Path, real_collector: Any, service: str, drop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    forged = "bad.x12\n2026-11-29 12:00:00 WARNING collector.agents.edi EDI file good.x12: 3 span(s) accepted"
    (tmp_path / "in" / forged).write_text("not x12")
    weird = os.fsdecode(b"invoice-\xff\xfe.x12")  # not UTF-8: surrogate escapes
    drop("810_invoice.x12", tmp_path / "out", weird)
    with caplog.at_level(logging.INFO, logger="collector.agents.edi"):
        report = agent.scan_once()
    assert report.quarantined == [forged] and report.processed == [weird]
    lines = [r.getMessage() for r in caplog.records]
    assert all("\n" not in line for line in lines)
    assert any("bad.x12\\n2026-11-29 12:00:00 WARNING" in line for line in lines)
    reason = reason_of(tmp_path, forged)
    assert reason.count("\n") == 2  # two lines: where it was, and why
    (invoice,) = by_set(real_collector.spans(service), "810")
    assert invoice.attributes["edi.file.name"] == "invoice-\ufffd\ufffd.x12"


def test_a_large_file_is_streamed_in_chunks_and_ledgered_once(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    agent = make_agent(tmp_path, real_collector, service, export_batch_spans=500)
    path = tmp_path / "in" / "big.x12"
    segments = write_850(path, 900001, orders=3000, lines=20)  # about 2.5 MiB, one interchange
    assert path.stat().st_size > 1024 * 1024  # read whole first, then streamed
    report = agent.scan_once()
    assert report.processed == ["big.x12"] and report.spans == 3001
    assert agent.emitter.requests >= 6  # sent in chunks as it was read
    assert agent.ledger.count() == 1
    assert agent.ledger._conn.execute("SELECT count() FROM progress").fetchone()[0] == 0
    spans = real_collector.spans(service)
    assert len(spans) == 3001 == len({s.span_id for s in spans})
    (batch,) = [s for s in spans if s.name.startswith("EDI interchange")]
    assert batch.attributes[c.BATCH_SIZE] == "3000"
    assert len(values(batch.attributes[c.ORDER_CUSTOMER_PO])) == 1000  # the first 1000 POs: the array limit
    assert segments == 3000 * 25 + 4


class _FailsAfter(Emitter):
    """The real emitter, with the connection lost after ``n`` accepted requests (an interruption)."""

    def __init__(self, n: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.left = n

    def send(self, parts: Any) -> int:
        if self.left == 0:
            raise EmitError("connection lost")
        self.left -= 1
        return super().send(parts)


def test_an_interrupted_large_file_resumes_after_its_last_acknowledged_chunk(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    path = tmp_path / "in" / "big.x12"
    (tmp_path / "in").mkdir(parents=True)
    write_850(path, 900002, orders=2000, lines=20)
    exporter = otlp_exporter(real_collector.url, "agent-token")
    interrupted = make_agent(tmp_path, real_collector, service, export_batch_spans=400,
                             emitter=_FailsAfter(2, exporter, service, "edi", window=TimeWindow()))  # fmt: skip
    report = interrupted.scan_once()
    assert report.failed == ["big.x12"] and report.processed == []
    digest = next(iter(interrupted.ledger._conn.execute("SELECT sha256 FROM progress")))[0]
    assert interrupted.ledger.chunks_done(digest) == 2
    interrupted.ledger.close()
    resumed = make_agent(tmp_path, real_collector, service, export_batch_spans=400)
    assert resumed.scan_once().processed == ["big.x12"]
    assert resumed.emitter.exported == 2001 - 800  # only what was not acknowledged before
    spans = real_collector.spans(service)
    assert len(spans) == 2001 == len({s.span_id for s in spans})


def test_files_still_being_written_are_not_read_early(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    agent = make_agent(tmp_path, real_collector, service, settle_s=0.3)
    data = (FIXTURES / "856_asn.x12").read_bytes()
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
    assert report.processed == ["asn2.x12"] and report.quarantined == []
    assert len(by_set(real_collector.spans(service), "856")) == 1
    os.rename(partial_named, tmp_path / "out" / "asn.x12")  # the writer finished: renamed into place
    assert agent.scan_once().processed == ["asn.x12"]


def test_ledger_prevents_reprocessing_across_restarts(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    agent = make_agent(tmp_path, real_collector, service)
    drop("855_ack.x12", tmp_path / "out")
    assert agent.scan_once().processed == ["855_ack.x12"]
    assert agent.scan_once().processed == []
    agent.ledger.close()
    restarted = make_agent(tmp_path, real_collector, service)
    assert restarted.scan_once().processed == []
    assert len(real_collector.spans(service)) == 2
    drop("856_asn.x12", tmp_path / "out", "855_ack.x12")  # new content under the same name: processed
    assert restarted.scan_once().processed == ["855_ack.x12"]
    assert len(by_set(real_collector.spans(service), "856")) == 1


def test_an_unreachable_collector_keeps_the_file_for_a_later_scan(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    with refused_port() as closed:  # bound, never listening: connections are refused
        down = Emitter(otlp_exporter(f"http://127.0.0.1:{closed}", timeout_s=0.5), service, "edi")
        agent = make_agent(tmp_path, real_collector, service, emitter=down)
        drop("810_invoice.x12", tmp_path / "out")
        report = agent.scan_once()
    assert report.failed == ["810_invoice.x12"] and report.processed == []
    assert (tmp_path / "out" / "810_invoice.x12").exists() and agent.ledger.count() == 0
    agent.ledger.close()
    up = make_agent(tmp_path, real_collector, service)
    assert up.scan_once().processed == ["810_invoice.x12"]
    assert up.scan_once().processed == []
    assert len(by_set(real_collector.spans(service), "810")) == 1


def test_a_busy_collector_keeps_the_file_and_the_next_scan_stores_it_once(
    tmp_path: Path, real_collector: Any, service: str, scripted: Any, scripted_emitter: Any, drop: Any
) -> None:
    # scripted receiver: the real collector cannot refuse one valid request and accept its retry on demand
    agent = make_agent(tmp_path, real_collector, service, emitter=scripted_emitter(service))
    drop("810_invoice.x12", tmp_path / "out")
    scripted.fail_with = 503  # busy: retry later (a 4xx would refuse the file for what it is)
    report = agent.scan_once()
    assert report.failed == ["810_invoice.x12"] and report.processed == []
    assert (tmp_path / "out" / "810_invoice.x12").exists()
    assert agent.ledger.count() == 0
    scripted.fail_with = None
    assert agent.scan_once().processed == ["810_invoice.x12"]  # the same agent, its next scan
    assert agent.scan_once().processed == []
    assert len(by_set(scripted.spans, "810")) == 1


def test_a_wrong_collector_token_keeps_the_file_and_stores_nothing(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    # the real collector answers 401: the file is not acknowledged, nothing reaches the store
    wrong = real_collector.emitter(service, token="not-the-token")
    agent = make_agent(tmp_path, real_collector, service, emitter=wrong)
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert report.failed == ["810_invoice.x12"] and report.processed == []
    assert (tmp_path / "out" / "810_invoice.x12").exists() and agent.ledger.count() == 0
    assert real_collector.spans(service) == []


def test_span_ids_are_derived_from_the_file_so_a_resend_is_identical(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    a = make_agent(tmp_path / "a", real_collector, service)
    b = make_agent(tmp_path / "b", real_collector, service)
    drop("850_two_orders.x12", tmp_path / "a" / "in")
    drop("850_two_orders.x12", tmp_path / "b" / "in")
    a.scan_once()
    ids_a = sorted((s.trace_id, s.span_id) for s in real_collector.spans(service))
    assert len(ids_a) == 3
    b.scan_once()
    # the second agent sent the very same spans: stored again with the same ids, so readers count them once
    assert sorted((s.trace_id, s.span_id) for s in real_collector.spans(service)) == sorted(ids_a * 2)


def test_agent_thread_keeps_running_after_bad_files(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    agent = make_agent(tmp_path, real_collector, service, poll_s=0.05)
    agent.start()
    try:
        (tmp_path / "in" / "junk.x12").write_bytes(b"\x00\xff" * 100)
        drop("truncated.x12", tmp_path / "in")
        drop("850_two_orders.x12", tmp_path / "in")
        deadline = time.monotonic() + 20
        while agent.totals.processed != ["850_two_orders.x12"] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop()
    assert len(by_set(real_collector.spans(service), "850")) == 2
    assert sorted(agent.totals.quarantined) == ["junk.x12", "truncated.x12"]


def test_sender_trace_context_in_the_file_becomes_span_links(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from tracing.instrument import inject_edi, name_with_context

    sender = SpanContext(0xABC, 0xDEF1, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    ctx = trace.set_span_in_context(NonRecordingSpan(sender))
    document = inject_edi((FIXTURES / "850_two_orders.x12").read_text(), ctx)
    name = name_with_context("850_two_orders.x12", ctx)
    agent = make_agent(tmp_path, real_collector, service)
    (tmp_path / "in" / name).write_text(document)
    assert agent.scan_once().processed == [name]
    spans = real_collector.spans(service)
    assert not [s for s in spans if s.name == "EDI envelope error"]  # SE01 was recounted by inject_edi
    sender_span = f"{0xDEF1:016x}"
    assert [s.links for s in by_set(spans, "850")] == [[sender_span], [sender_span]]
    (batch,) = [s for s in spans if s.name.startswith("EDI interchange")]
    assert batch.links == [sender_span]


def test_a_file_that_cannot_be_quarantined_does_not_block_the_others(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    agent = make_agent(tmp_path, real_collector, service, quarantine_dir=blocked)
    drop("truncated.x12", tmp_path / "in")
    drop("810_invoice.x12", tmp_path / "out")
    report = agent.scan_once()
    assert report.failed == ["truncated.x12"] and report.processed == ["810_invoice.x12"]
    assert (tmp_path / "in" / "truncated.x12").exists()  # kept, tried again next scan


def test_processed_files_can_be_archived(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    agent = make_agent(tmp_path, real_collector, service, archive_dir=tmp_path / "archive")
    drop("856_asn.x12", tmp_path / "out")
    drop("truncated.x12", tmp_path / "in")
    report = agent.scan_once()
    assert report.processed == ["856_asn.x12"] and report.quarantined == ["truncated.x12"]
    assert list((tmp_path / "out").iterdir()) == []
    (archived,) = (tmp_path / "archive").glob("*/856_asn.x12")
    assert archived.read_bytes() == (FIXTURES / "856_asn.x12").read_bytes()


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        ("AC", "accepted_with_changes", "accepted"),
        ("AD", "accepted", "accepted"),
        ("AE", "accepted_with_exceptions", "accepted"),
        ("AH", "on_hold", "no_decision"),
        ("AK", "accepted", "accepted"),
        ("AP", "accepted", "accepted"),
        ("AT", "accepted", "accepted"),
        ("NA", "no_acknowledgment_needed", "no_decision"),
        ("RD", "rejected", "rejected"),
        ("RF", "rejected", "rejected"),
        ("RJ", "rejected", "rejected"),
        ("RN", "rejected_not_as_agreed", "rejected"),
        ("RO", "rejected_with_counter_offer", "rejected"),
        ("RV", "rejected_violates_industry_practices", "rejected"),
        ("ZZ", "mutually_defined", "no_decision"),
        ("Q9", "unknown", "no_decision"),  # not an X12 code: kept as sent, never lower-cased into a status
    ],
)
def test_855_bak02_codes_map_to_statuses(code: str, status: str, outcome: str) -> None:
    from collector.agents.edi import transaction_keys
    from collector.agents.x12 import TransactionSet

    tx = TransactionSet("855", "0001", "1", segments=[("BAK", ["00", code, "PO-1", "20261126"])])
    keys = transaction_keys(tx)
    assert (keys[c.STATUS], keys["edi.ack.outcome"], keys["edi.ack.code"]) == (status, outcome, code)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("A", "accepted", False),
        ("E", "accepted_with_errors", False),
        ("M", "rejected_message_authentication_failed", True),
        ("P", "partially_accepted", False),
        ("R", "rejected", True),
        ("W", "rejected_assurance_failed", True),
        ("X", "rejected_content_after_decryption_failed", True),
    ],
)
def test_997_ak9_codes_map_to_statuses_and_span_status(code: str, status: str, error: bool) -> None:
    from collector.agents.edi import _FileSpans
    from collector.agents.x12 import Interchange, Transaction, TransactionSet

    ak5 = "R" if code in ("P", "R", "M", "W", "X") else "A"
    tx = TransactionSet(
        "997",
        "0001",
        "9",
        segments=[
            ("AK1", ["PO", "101"]),
            ("AK2", ["850", "0001"]),
            ("AK5", [ak5]),
            ("AK9", [code, "1", "1", "0"]),
        ],
    )
    ic = Interchange(0, "000000009", "PARTNER", "DISTCO", "261126", "1200", "00401", "P")
    (hop,) = _FileSpans("997.x12", "d" * 64, "inbound", 10**18, "edi").transaction(Transaction(ic, tx))
    assert hop.attributes[c.STATUS] == status
    assert (hop.error is not None) is error, hop.error
    assert len(hop.children) == (1 if ak5 == "R" else 0)  # the rejected set is an exception either way


def test_requests_follow_the_collectors_size_limit(
    tmp_path: Path, module_store: Any, real_collector: Any, service: str
) -> None:
    """A collector whose max_body_bytes is far below the agent's max_request_bytes answers 413: the
    agent halves its requests until they fit, and the file is acknowledged whole."""
    from collector.testing import running_collector

    with running_collector(module_store, tmp_path / "spool", max_body_bytes=64 * 1024) as small:
        emitter = Emitter(
            otlp_exporter(small.http_endpoint, max_request_bytes=4 * 1024 * 1024), service, "edi"
        )
        agent = make_agent(tmp_path, real_collector, service, emitter=emitter, export_batch_spans=5000)
        write_850(tmp_path / "in" / "many.x12", 900003, orders=600, lines=2)
        report = agent.scan_once()
        assert report.processed == ["many.x12"] and report.spans == 601
        assert emitter.requests >= 4  # 601 spans do not fit in one 64 KiB request
        assert small.wait_drained(60)
    spans = real_collector.spans(service)
    assert len({s.span_id for s in spans}) == 601
