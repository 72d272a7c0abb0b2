"""EDI X12 file agent: watches inbound/outbound directories and turns interchanges into hop spans.

One span per interchange (the batch: its control number, its orders' POs and ids) with one child
per transaction set (850 capture, 855 acknowledge, 856 ship, 810 invoice, 997 acknowledge) carrying
the business keys, plus exception children for envelope errors and 997 rejections.

A file is read only once it is stable: not modified for ``settle_s`` (by its mtime, or as
observed across scans) and, when an earlier scan saw it, unchanged since then; names with a
partial suffix (``.tmp``, ``.part``, ...) or a leading dot are never read. A file is recorded in the processed-files
ledger (name + size + sha256) only after the collector accepted its spans, so a restart neither
loses nor repeats it. A file that is not a readable interchange, or is larger than the limit, is
moved to the quarantine folder with ``<file>.reason.txt``; the agent carries on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import SpanContext, SpanKind

from collector.agents.emitter import AgentHop, AttrValue, EmitError, Emitter
from collector.agents.settings import EdiAgentSettings
from collector.agents.x12 import (
    SET_NAMES,
    EnvelopeProblem,
    Interchange,
    MalformedInterchange,
    TransactionSet,
    element,
    parse_file,
)
from tracing import conventions as c
from tracing.instrument import EDI_REF_NAME, EDI_REF_QUALIFIER, context_from_name, context_from_traceparent

log = logging.getLogger(__name__)

# attributes of this agent that have no home in tracing.conventions (documented in the README)
EDI_DIRECTION = "edi.direction"  # inbound | outbound
EDI_FILE = "edi.file.name"
EDI_ACK_CODE = "edi.ack.code"  # AK901 / AK501: A accepted, E with errors, P partial, R rejected
EDI_ACK_REJECTED = "edi.ack.rejected_control_numbers"  # ST02s (or GS06s) a 997 rejected
EDI_ENVELOPE_LEVEL = "edi.envelope.level"  # interchange | group | transaction

_STAGES = {
    "850": c.Stage.CAPTURE,
    "855": c.Stage.ACKNOWLEDGE,
    "856": c.Stage.SHIP,
    "810": c.Stage.INVOICE,
    "997": c.Stage.ACKNOWLEDGE,
}
_BAK_STATUS = {
    "AC": "accepted_with_changes",
    "AD": "accepted",
    "AE": "accepted_with_exceptions",
    "AK": "accepted",
    "AP": "accepted",
    "RD": "rejected",
    "RF": "rejected",
    "RJ": "rejected",
    "RO": "rejected",
    "ZZ": "mutually_defined",
}
_REJECTED_AK5 = {"R", "M", "W", "X"}
_TRACKING_REFS = {"CN", "2I"}  # REF qualifiers: carrier's reference (PRO/tracking), tracking number
_TRACKING_MAN = {"CP", "SM"}  # MAN qualifiers: carrier-assigned package id, shipper-assigned


@dataclass
class ScanReport:
    processed: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # export failed: retried on a later scan
    spans: int = 0


@dataclass
class _Parsed:
    path: Path
    size: int
    mtime_ns: int
    digest: str
    hops: list[AgentHop]
    spans: int


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1b\x7f]")  # control bytes no X12 text contains


def sha256_of(path: Path) -> tuple[str, int | None]:
    """The file's sha256 and the offset of its first binary (control) byte, if any; read in 1 MiB chunks."""
    digest = hashlib.sha256()
    offset = 0
    binary_at: int | None = None
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
            if binary_at is None and (found := _BINARY_BYTES.search(chunk)) is not None:
                binary_at = offset + found.start()
            offset += len(chunk)
    return digest.hexdigest(), binary_at


class EdiAgent:
    """Scans the configured directories; :meth:`scan_once` for tests and the CLI, a thread for serve."""

    name = "edi-agent"

    def __init__(self, settings: EdiAgentSettings, emitter: Emitter, state_dir: Path) -> None:
        from collector.agents.state import FileLedger

        self.settings = settings
        self.emitter = emitter
        self.state_dir = state_dir
        self.quarantine_dir = settings.quarantine_dir or state_dir / "quarantine"
        self.ledger = FileLedger(state_dir / "edi-ledger.sqlite3")
        self._watch: dict[Path, _Seen] = {}
        self._pending: list[_Parsed] = []
        self._missing_dirs: set[Path] = set()
        self._done: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime) known to be in the ledger
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.totals = ScanReport()

    # -- service ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="edi-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.ledger.close()
        self.emitter.shutdown()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception:  # the agent keeps running whatever one scan met
                log.exception("EDI scan failed")
            self._stop.wait(self.settings.poll_s)

    # -- scanning ---------------------------------------------------------------------------
    def _candidates(self) -> Iterator[tuple[Path, str]]:
        for direction, dirs in (
            ("inbound", self.settings.inbound_dirs),
            ("outbound", self.settings.outbound_dirs),
        ):
            for directory in dirs:
                try:
                    entries = sorted(directory.iterdir())
                except OSError as exc:
                    if directory not in self._missing_dirs:
                        log.warning(
                            "EDI directory %s cannot be read (watched until it can): %s", directory, exc
                        )
                        self._missing_dirs.add(directory)
                    continue
                self._missing_dirs.discard(directory)
                for path in entries:
                    if path.name.startswith(".") or path.name.endswith(".reason.txt"):
                        continue
                    if any(path.name.endswith(s) for s in self.settings.partial_suffixes):
                        continue
                    if path.is_file():
                        yield path, direction

    def scan_once(self) -> ScanReport:
        """Process every stable file once; returns what happened to each file this scan."""
        report = ScanReport()
        now = time.monotonic()
        present: set[Path] = set()
        for path, direction in self._candidates():
            present.add(path)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if self._done.get(path) == (st.st_size, st.st_mtime_ns):
                continue
            seen = self._watch.get(path)
            first_sight = seen is None
            unchanged = seen is not None and (seen.size, seen.mtime_ns) == (st.st_size, st.st_mtime_ns)
            if seen is None or not unchanged:
                self._watch[path] = seen = _Seen(st.st_size, st.st_mtime_ns, now)
            # stable: not modified for settle_s (by its mtime, or as observed across scans) and,
            # when an earlier scan saw it, unchanged since then
            settle = self.settings.settle_s
            quiet = time.time_ns() - st.st_mtime_ns >= settle * 1e9
            settled = (unchanged and (quiet or now - seen.since >= settle)) or (first_sight and quiet)
            if settle > 0 and not settled:
                report.waiting.append(path.name)
                continue
            try:
                self._process(path, direction, st.st_size, st.st_mtime_ns, report)
            except OSError as exc:  # vanished, unreadable or unmovable: the other files still go on
                log.warning("EDI file %s skipped this scan: %s", path, exc)
                report.failed.append(path.name)
        self._flush(report)
        for gone in set(self._watch) - present:
            del self._watch[gone]
        for gone in set(self._done) - present:
            del self._done[gone]
        for key in ("processed", "quarantined", "failed"):
            getattr(self.totals, key).extend(getattr(report, key))
        self.totals.spans += report.spans
        return report

    def _process(self, path: Path, direction: str, size: int, mtime_ns: int, report: ScanReport) -> None:
        if size > self.settings.max_file_bytes:
            self._quarantine(
                path,
                f"file is {size} bytes, larger than the limit of {self.settings.max_file_bytes} bytes "
                "(collector.agents.edi.max_file_bytes); it was not read",
                report,
            )
            return
        digest, binary_at = sha256_of(path)
        if self.ledger.seen(path.name, size, digest):
            self._done[path] = (size, mtime_ns)
            self._watch.pop(path, None)
            return
        if binary_at is not None:
            self._quarantine(
                path, f"malformed X12: binary data at byte {binary_at}: not an X12 text file", report
            )
            self.ledger.record(path.name, size, digest, "quarantined")
            return
        started = time.perf_counter_ns()
        try:
            interchanges = parse_file(path)
        except MalformedInterchange as exc:
            self._quarantine(path, f"malformed X12: {exc}", report)
            self.ledger.record(path.name, size, digest, "quarantined")
            return
        except Exception as exc:  # a bug or an unreadable file must not stop the agent or vanish
            log.exception("EDI file %s could not be read", path)
            self._quarantine(path, f"could not be read: {type(exc).__name__}: {exc}", report)
            return
        parse_ns = max(time.perf_counter_ns() - started, 1000)
        hops = [
            interchange_hop(
                ic, direction, path.name, digest, index, mtime_ns, parse_ns, self.settings.system_instance
            )
            for index, ic in enumerate(interchanges)
        ]
        self._pending.append(_Parsed(path, size, mtime_ns, digest, hops, sum(1 for _ in _walk(hops))))
        if sum(p.spans for p in self._pending) >= self.settings.export_batch_spans:
            self._flush(report)

    def _flush(self, report: ScanReport) -> None:
        """Export the parsed files' spans in one request; ledger them only when it was accepted."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            report.spans += self.emitter.emit([hop for p in pending for hop in p.hops])
        except EmitError as exc:
            log.warning("%d EDI file(s) not acknowledged (will retry): %s", len(pending), exc)
            report.failed.extend(p.path.name for p in pending)
            return
        for p in pending:
            self.ledger.record(p.path.name, p.size, p.digest, "processed")
            self._done[p.path] = (p.size, p.mtime_ns)
            self._watch.pop(p.path, None)
            report.processed.append(p.path.name)
            log.info("EDI file %s: %d span(s) accepted", p.path.name, p.spans)
            if self.settings.archive_dir is not None:
                self._archive(p.path, self.settings.archive_dir)

    def _archive(self, path: Path, archive_dir: Path) -> None:
        """Move a processed (and ledgered) file out of the watched directory."""
        folder = archive_dir / time.strftime("%Y-%m-%d", time.gmtime())
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / path.name
            if target.exists():
                target = folder / f"{path.stem}.{time.time_ns()}{path.suffix}"
            shutil.move(str(path), target)
        except OSError as exc:  # it is in the ledger: left in place, it is not processed again
            log.warning("EDI file %s processed but not archived: %s", path, exc)

    def _quarantine(self, path: Path, reason: str, report: ScanReport) -> None:
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_dir / path.name
        if target.exists():
            target = (
                self.quarantine_dir
                / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}{path.suffix}"
            )
        shutil.move(str(path), target)
        (target.parent / f"{target.name}.reason.txt").write_text(
            f"{path} quarantined at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\nreason: {reason}\n",
            encoding="utf-8",
        )
        self._watch.pop(path, None)
        report.quarantined.append(path.name)
        log.warning("EDI file %s quarantined: %s", path.name, reason)


def _walk(hops: list[AgentHop]) -> Iterator[AgentHop]:
    for hop in hops:
        yield from hop.walk()


def _one_or_list(values: list[str]) -> AttrValue | None:
    unique = list(dict.fromkeys(v for v in values if v))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else unique


def transaction_keys(tx: TransactionSet) -> dict[str, AttrValue]:
    """Business keys and outcome of one transaction set (850/855/856/810/997)."""
    keys: dict[str, AttrValue | None] = {}
    vendor_orders = [element(r, 2) for r in tx.all("REF") if element(r, 1) == "VN"]
    if tx.code == "850":
        beg = tx.first("BEG")
        keys[c.ORDER_CUSTOMER_PO] = element(beg, 3)
        ctt = tx.first("CTT")
        lines = element(ctt, 1) or str(len(tx.all("PO1")) or "")
        if lines.isdigit():
            keys[c.ORDER_LINE_COUNT] = int(lines)
    elif tx.code == "855":
        bak = tx.first("BAK")
        keys[c.ORDER_CUSTOMER_PO] = element(bak, 3)
        vendor_orders.insert(0, element(bak, 8))
        keys[c.STATUS] = _BAK_STATUS.get(element(bak, 2), element(bak, 2).lower())
    elif tx.code == "856":
        bsn = tx.first("BSN")
        keys[c.SHIPMENT_ID] = element(bsn, 2)
        keys[c.ORDER_CUSTOMER_PO] = _one_or_list([element(p, 1) for p in tx.all("PRF")])
        tracking = [element(r, 2) for r in tx.all("REF") if element(r, 1) in _TRACKING_REFS]
        tracking += [element(m, 2) for m in tx.all("MAN") if element(m, 1) in _TRACKING_MAN]
        unique = list(dict.fromkeys(t for t in tracking if t))
        if unique:
            keys[c.SHIPMENT_TRACKING_NUMBER] = unique
        keys[c.SHIPMENT_CARRIER] = element(tx.first("TD5"), 3)
    elif tx.code == "810":
        big = tx.first("BIG")
        keys[c.INVOICE_ID] = element(big, 2)
        keys[c.ORDER_CUSTOMER_PO] = element(big, 4)
    elif tx.code == "997":
        ak9 = tx.first("AK9")
        keys[EDI_ACK_CODE] = element(ak9, 1)
        rejected = [number for _code, number, _ack in ack_results(tx) if _ack in _REJECTED_AK5]
        if rejected:
            keys[EDI_ACK_REJECTED] = rejected
        keys[c.STATUS] = "rejected" if element(ak9, 1) == "R" else ("accepted" if element(ak9, 1) else "")
    order_id = _one_or_list(vendor_orders)
    if isinstance(order_id, str):
        keys[c.ORDER_ID] = order_id
    elif isinstance(order_id, list):
        keys[c.BATCH_ORDER_IDS] = order_id
    return {k: v for k, v in keys.items() if v not in (None, "")}


def sender_contexts(tx: TransactionSet) -> list[SpanContext]:
    """Trace context the sender put in the set (``REF*ZZ*TRACEPARENT*...``, tracing.instrument.inject_edi)."""
    found = []
    for ref in tx.all("REF"):
        if element(ref, 1) == EDI_REF_QUALIFIER and element(ref, 2) == EDI_REF_NAME:
            ctx = context_from_traceparent(element(ref, 3))
            if ctx is not None:
                found.append(trace.get_current_span(ctx).get_span_context())
    return found


def ack_results(tx: TransactionSet) -> list[tuple[str, str, str]]:
    """(AK201 set code, AK202 control number, AK501 code) for each AK2 loop of a 997."""
    results: list[tuple[str, str, str]] = []
    current: list[str] | None = None
    for seg_id, els in tx.segments:
        if seg_id == "AK2":
            current = [element(els, 1), element(els, 2), ""]
            results.append((current[0], current[1], ""))
        elif seg_id == "AK5" and current is not None:
            results[-1] = (current[0], current[1], element(els, 1))
            current = None
    return results


def interchange_hop(
    ic: Interchange,
    direction: str,
    file_name: str,
    digest: str,
    index: int,
    start_ns: int,
    duration_ns: int,
    system_instance: str,
) -> AgentHop:
    """The span tree of one interchange: the batch span, a span per transaction set, exceptions."""
    seed = f"edi:{digest}:{index}"
    end_ns = start_ns + duration_ns
    base: dict[str, AttrValue] = {
        c.SYSTEM_KIND: c.SystemKind.EDI.value,
        c.SYSTEM_INSTANCE: system_instance,
        c.CHANNEL: c.Channel.EDI.value,
        c.EDI_INTERCHANGE_CONTROL_NUMBER: ic.control_number,
        c.EDI_SENDER_ID: ic.sender_id,
        c.EDI_RECEIVER_ID: ic.receiver_id,
        EDI_DIRECTION: direction,
        EDI_FILE: file_name,
    }
    children: list[AgentHop] = []
    pos: list[str] = []
    order_ids: list[str] = []
    for n, tx in enumerate(ic.transactions):
        keys = transaction_keys(tx)
        attrs = {
            **base,
            c.EDI_GROUP_CONTROL_NUMBER: tx.group_control_number,
            c.EDI_TRANSACTION_SET: tx.code,
            c.EDI_TRANSACTION_SET_CONTROL_NUMBER: tx.control_number,
            **keys,
        }
        if tx.code in _STAGES:
            attrs[c.STAGE] = _STAGES[tx.code].value
        po = keys.get(c.ORDER_CUSTOMER_PO)
        pos.extend([po] if isinstance(po, str) else list(po) if isinstance(po, list) else [])
        oid = keys.get(c.ORDER_ID)
        if isinstance(oid, str):
            order_ids.append(oid)
        tx_seed = f"{seed}:st:{n}"
        tx_hop = AgentHop(
            name=f"EDI {tx.code} {SET_NAMES.get(tx.code, 'transaction set')}",
            seed=tx_seed,
            start_ns=start_ns,
            end_ns=end_ns,
            attributes=attrs,
            remote_links=sender_contexts(tx),
        )
        if tx.code == "997":
            tx_hop.children.extend(_rejections(tx, base, tx_seed, start_ns, end_ns, ic.sender_id))
            if tx_hop.children:
                tx_hop.error = f"{len(tx_hop.children)} rejection(s) in functional acknowledgment"
        children.append(tx_hop)
    for n, problem in enumerate(ic.problems):
        children.append(_envelope_exception(problem, base, f"{seed}:env:{n}", start_ns, end_ns, ic))
    attrs = {
        **base,
        c.BATCH_ID: f"edi:{ic.sender_id}:{ic.control_number}",
        c.BATCH_SIZE: len(ic.transactions),
    }
    if pos:
        unique_pos = list(dict.fromkeys(pos))
        attrs[c.ORDER_CUSTOMER_PO] = unique_pos[0] if len(unique_pos) == 1 else unique_pos
    if order_ids:
        attrs[c.BATCH_ORDER_IDS] = list(dict.fromkeys(order_ids))
    from_name = context_from_name(file_name)
    root = AgentHop(
        name=f"EDI interchange {ic.control_number}",
        remote_links=[trace.get_current_span(from_name).get_span_context()] if from_name else [],
        seed=seed,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=attrs,
        children=children,
        kind=SpanKind.CONSUMER if direction == "inbound" else SpanKind.PRODUCER,
    )
    if ic.problems:
        root.error = "; ".join(p.message for p in ic.problems)[:1000]
    return root


def _rejections(
    tx: TransactionSet, base: dict[str, AttrValue], seed: str, start_ns: int, end_ns: int, partner: str
) -> list[AgentHop]:
    ak1 = tx.first("AK1")
    group = element(ak1, 2)
    hops = []
    results = ack_results(tx)
    rejected = [(code, number, ack) for code, number, ack in results if ack in _REJECTED_AK5]
    if not results and element(tx.first("AK9"), 1) == "R":
        rejected = [("", "", "R")]
    for n, (code, number, ack) in enumerate(rejected):
        what = f"{code} transaction set {number} of group {group}" if number else f"functional group {group}"
        message = f"partner {partner} rejected {what} (997 {'AK5' if number else 'AK9'}={ack})"
        attrs: dict[str, AttrValue] = {
            **base,
            c.EXCEPTION_TYPE: c.ExceptionType.EDI_REJECTED.value,
            c.EXCEPTION_OUTCOME: c.ExceptionOutcome.OPENED.value,
            c.ERROR_TYPE: c.ExceptionType.EDI_REJECTED.value,
            c.EDI_GROUP_CONTROL_NUMBER: group,
        }
        if number:
            attrs[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] = number
            attrs[c.EDI_TRANSACTION_SET] = code
        hops.append(
            AgentHop(
                name="EDI 997 rejection",
                seed=f"{seed}:rej:{n}",
                start_ns=start_ns,
                end_ns=end_ns,
                attributes=attrs,
                error=message,
            )
        )
    return hops


def _envelope_exception(
    problem: EnvelopeProblem,
    base: dict[str, AttrValue],
    seed: str,
    start_ns: int,
    end_ns: int,
    ic: Interchange,
) -> AgentHop:
    attrs: dict[str, AttrValue] = {
        **base,
        c.EXCEPTION_TYPE: c.ExceptionType.ENVELOPE.value,
        c.EXCEPTION_OUTCOME: c.ExceptionOutcome.OPENED.value,
        c.ERROR_TYPE: c.ExceptionType.ENVELOPE.value,
        EDI_ENVELOPE_LEVEL: problem.level,
    }
    if problem.level == "group" and problem.control_number:
        attrs[c.EDI_GROUP_CONTROL_NUMBER] = problem.control_number
    if problem.level == "transaction" and problem.control_number:
        attrs[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] = problem.control_number
    message = f"envelope error in interchange {ic.control_number} from {ic.sender_id}: {problem.message}"
    return AgentHop(
        name="EDI envelope error",
        seed=seed,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=attrs,
        error=message,
    )
