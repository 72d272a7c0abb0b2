"""EDI X12 file agent: watches inbound/outbound directories and turns interchanges into hop spans.

One span per interchange (the batch: its control number, version, its orders' POs and ids) with one
child per transaction set (850 capture, 855 acknowledge, 856 ship, 810 invoice, 997/999 acknowledge;
any other set is recorded as its set) carrying the business keys, plus exception children for
envelope errors and acknowledged rejections.

A file is read only once it is stable: not modified for ``settle_s`` (by its mtime, or as
observed across scans) and, when an earlier scan saw it, unchanged since then; names with a partial
suffix (``.tmp``, ``.part``, ...) or a leading dot are never read. Each file stands alone: it is
read through its own descriptor (symbolic links are never followed: a link is quarantined, not
read), checked, streamed and encoded by itself, so a file that cannot be sent never holds back
another. Small files share export requests; a large one is sent in chunks (``export_batch_spans``)
as it is read, and resumes after its last acknowledged chunk when interrupted. A file is recorded in
the processed-files ledger (name + size + sha256) only after the collector accepted every one of its
spans, so a restart neither loses nor repeats it. A file that is not a readable interchange, whose
time the store cannot keep, whose spans the collector refuses, or that is larger than the limit, is
moved to the quarantine folder with ``<file>.reason.txt`` (reasons never quote the file's content;
names are escaped in logs and reasons); the agent carries on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from opentelemetry import trace
from opentelemetry.trace import SpanContext, SpanKind

from collector.agents.emitter import AgentHop, AttrValue, Emitter, Encoded
from collector.agents.settings import EdiAgentSettings
from collector.agents.x12 import (
    SET_NAMES,
    EnvelopeProblem,
    Interchange,
    InterchangeEnd,
    MalformedInterchange,
    Transaction,
    TransactionSet,
    element,
    read,
)
from storage.errors import TowerError
from tracing import conventions as c
from tracing.instrument import EDI_REF_NAME, EDI_REF_QUALIFIER, context_from_name, context_from_traceparent
from tracing.otlp_http import EmitError, SpansRejected

log = logging.getLogger(__name__)

# attributes of this agent that have no home in tracing.conventions (documented in the README)
EDI_DIRECTION = "edi.direction"  # inbound | outbound
EDI_FILE = "edi.file.name"
EDI_INTERCHANGE_VERSION = "edi.interchange_version"  # ISA12, e.g. 00401
EDI_TRANSACTION_SET_VERSION = "edi.transaction_set_version"  # ST03, else GS08, e.g. 004010
EDI_ACK_CODE = "edi.ack.code"  # BAK02 / AK901 as sent
EDI_ACK_MEANING = "edi.ack.meaning"  # the X12 meaning of that code
EDI_ACK_OUTCOME = "edi.ack.outcome"  # accepted | partially_accepted | rejected | no_decision
EDI_ACK_REJECTED = "edi.ack.rejected_control_numbers"  # ST02s (or GS06s) a 997/999 rejected
EDI_ENVELOPE_LEVEL = "edi.envelope.level"  # interchange | group | transaction

_STAGES = {
    "850": c.Stage.CAPTURE,
    "855": c.Stage.ACKNOWLEDGE,
    "856": c.Stage.SHIP,
    "810": c.Stage.INVOICE,
    "997": c.Stage.ACKNOWLEDGE,
    "999": c.Stage.ACKNOWLEDGE,
}
# 855 BAK02, X12 element 587 Acknowledgment Type: code -> (order.status, X12 meaning, outcome)
BAK_CODES: dict[str, tuple[str, str, str]] = {
    "AC": ("accepted_with_changes", "Acknowledge - With Detail and Change", "accepted"),
    "AD": ("accepted", "Acknowledge - With Detail, No Change", "accepted"),
    "AE": ("accepted_with_exceptions", "Acknowledge - With Exception Detail Only", "accepted"),
    "AH": ("on_hold", "Acknowledge - Hold Status", "no_decision"),
    "AK": ("accepted", "Acknowledge - No Detail or Change", "accepted"),
    "AP": ("accepted", "Acknowledge - Product Replenishment", "accepted"),
    "AT": ("accepted", "Accepted", "accepted"),
    "NA": ("no_acknowledgment_needed", "No Acknowledgment Needed", "no_decision"),
    "RD": ("rejected", "Reject with Detail", "rejected"),
    "RF": ("rejected", "Reject with Exception Detail Only", "rejected"),
    "RJ": ("rejected", "Rejected - No Detail", "rejected"),
    "RN": ("rejected_not_as_agreed", "Rejected - Not as Agreed", "rejected"),
    "RO": ("rejected_with_counter_offer", "Rejected With Counter Offer", "rejected"),
    "RV": ("rejected_violates_industry_practices", "Rejected - Violates Industry Practices", "rejected"),
    "ZZ": ("mutually_defined", "Mutually Defined", "no_decision"),
}
# 997/999 AK901 (element 715) and AK501/IK501 (element 717): code -> (order.status, X12 meaning, outcome)
ACK_CODES: dict[str, tuple[str, str, str]] = {
    "A": ("accepted", "Accepted", "accepted"),
    "E": ("accepted_with_errors", "Accepted, But Errors Were Noted", "accepted"),
    "M": (
        "rejected_message_authentication_failed",
        "Rejected, Message Authentication Code (MAC) Failed",
        "rejected",
    ),
    "P": (
        "partially_accepted",
        "Partially Accepted, At Least One Transaction Set Was Rejected",
        "partially_accepted",
    ),
    "R": ("rejected", "Rejected", "rejected"),
    "W": ("rejected_assurance_failed", "Rejected, Assurance Failed Validity Tests", "rejected"),
    "X": (
        "rejected_content_after_decryption_failed",
        "Rejected, Content After Decryption Could Not Be Analyzed",
        "rejected",
    ),
}
_TRACKING_REFS = {"CN", "2I"}  # REF qualifiers: carrier's reference (PRO/tracking), tracking number
_TRACKING_MAN = {"CP", "SM"}  # MAN qualifiers: carrier-assigned package id, shipper-assigned
MAX_KEYS = (
    1000  # distinct POs / order ids / tracking numbers listed on one span (the collector's array limit)
)
PREVALIDATE_BYTES = 1024 * 1024  # larger files are checked whole before any chunk is sent
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1b\x7f]")  # control bytes no X12 text contains
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"I\x00S\x00A\x00", b"\x00I\x00S\x00A")  # UTF-16/32: NULs are text


def printable(text: str, limit: int = 2000) -> str:
    """``text`` safe for one log line or reason file: control and undecodable characters escaped."""
    out = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode() for ch in text
    )
    return out if len(out) <= limit else out[:limit] + "..."


def text_value(text: str) -> str:
    """A span attribute value from a file name or file data: valid UTF-8 whatever the file system gave."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class ScanReport:
    processed: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # not acknowledged: retried on a later scan
    spans: int = 0


@dataclass
class _Ready:
    """A small file read, checked and encoded, waiting to share an export request with others."""

    path: Path
    size: int
    mtime_ns: int
    digest: str
    encoded: Encoded


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


def sha256_of(fh: BinaryIO) -> tuple[str, int | None]:
    """The file's sha256 and the offset of its first binary (control) byte, if any; read in 1 MiB chunks."""
    digest = hashlib.sha256()
    offset = 0
    binary_at: int | None = None
    first = True
    for chunk in iter(lambda: fh.read(1024 * 1024), b""):
        digest.update(chunk)
        if first and chunk.startswith(_WIDE_BOMS):
            binary_at = -1  # wide text: no byte test
        first = False
        if binary_at is None and (found := _BINARY_BYTES.search(chunk)) is not None:
            binary_at = offset + found.start()
        offset += len(chunk)
    return digest.hexdigest(), (None if binary_at == -1 else binary_at)


class _Refused(TowerError):
    """The file must go to quarantine for this reason."""


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
        self._batch: list[_Ready] = []
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
    def _candidates(self) -> Iterator[tuple[Path, str, bool]]:
        """(path, direction, is_link) of every entry that may be a partner's file."""
        for direction, dirs in (
            ("inbound", self.settings.inbound_dirs),
            ("outbound", self.settings.outbound_dirs),
        ):
            for directory in dirs:
                try:
                    with os.scandir(directory) as it:
                        entries = sorted(it, key=lambda e: e.name)
                except OSError as exc:
                    if directory not in self._missing_dirs:
                        log.warning(
                            "EDI directory %s cannot be read (watched until it can): %s",
                            printable(str(directory)),
                            exc.strerror,
                        )
                        self._missing_dirs.add(directory)
                    continue
                self._missing_dirs.discard(directory)
                for entry in entries:
                    name = entry.name
                    if name.startswith(".") or name.endswith(".reason.txt"):
                        continue
                    if any(name.endswith(s) for s in self.settings.partial_suffixes):
                        continue
                    if entry.is_symlink():
                        yield Path(entry.path), direction, True
                    elif entry.is_file(follow_symlinks=False):
                        yield Path(entry.path), direction, False
                    # directories, pipes, sockets and devices are not files: never read

    def scan_once(self) -> ScanReport:
        """Process every stable file once; returns what happened to each file this scan."""
        report = ScanReport()
        now = time.monotonic()
        present: set[Path] = set()
        for path, direction, is_link in self._candidates():
            present.add(path)
            if is_link:
                self._refuse_link(path, report)
                continue
            try:
                st = path.stat(follow_symlinks=False)
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
                log.warning("EDI file %s skipped this scan: %s", printable(path.name), exc.strerror or exc)
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

    def _refuse_link(self, path: Path, report: ScanReport) -> None:
        try:
            target = path.resolve(strict=False)
            inside = any(
                target.is_relative_to(d.resolve())
                for d in (*self.settings.inbound_dirs, *self.settings.outbound_dirs)
            )
        except (OSError, RuntimeError):
            inside = False
        where = "another file of a watched folder" if inside else "a file outside the watched folders"
        try:
            self._quarantine(
                path, f"symbolic link to {where}: links are never followed; it was not read", report
            )
        except OSError as exc:
            log.warning("EDI link %s could not be quarantined: %s", printable(path.name), exc.strerror or exc)
            report.failed.append(path.name)

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        """The file itself (never what a link points to), only when it is a regular file."""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _Refused("not a regular file; it was not read")
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _process(self, path: Path, direction: str, size: int, mtime_ns: int, report: ScanReport) -> None:
        if size > self.settings.max_file_bytes:
            self._quarantine(
                path,
                f"file is {size} bytes, larger than the limit of {self.settings.max_file_bytes} bytes "
                "(collector.agents.edi.max_file_bytes); it was not read",
                report,
            )
            return
        digest = ""
        try:
            with self._open(path) as fh:
                digest, binary_at = sha256_of(fh)
                if self.ledger.seen(path.name, size, digest):
                    self._done[path] = (size, mtime_ns)
                    self._watch.pop(path, None)
                    return
                if binary_at is not None:
                    raise _Refused(f"malformed X12: binary data at byte {binary_at}: not an X12 text file")
                problem = self.emitter.window.problem(mtime_ns, "the file's modification time")
                if problem:
                    raise _Refused(f"not sent: {problem}")
                self._read(fh, path, direction, size, mtime_ns, digest, report)
        except _Refused as exc:
            self._quarantine(path, str(exc), report)
            if digest:
                self.ledger.record(path.name, size, digest, "quarantined")
        except OSError as exc:
            if exc.errno in (getattr(os, "ELOOP", -1), getattr(os, "EMLINK", -1)):  # became a link meanwhile
                self._refuse_link(path, report)
                return
            raise

    def _read(
        self,
        fh: BinaryIO,
        path: Path,
        direction: str,
        size: int,
        mtime_ns: int,
        digest: str,
        report: ScanReport,
    ) -> None:
        builder = _FileSpans(path.name, digest, direction, mtime_ns, self.settings.system_instance)
        try:
            fh.seek(0)
            if size > PREVALIDATE_BYTES:  # read whole once first: nothing of a broken large file is sent
                for _ in read(fh, keep=frozenset()):
                    pass
                fh.seek(0)
                chunks = _chunks(builder, read(fh), self.settings.export_batch_spans)
            else:  # a small file is read whole before anything is sent
                chunks = iter(list(_chunks(builder, read(fh), self.settings.export_batch_spans)))
            first = next(chunks, None)
            second = next(chunks, None) if first is not None else None
        except MalformedInterchange as exc:
            raise _Refused(f"malformed X12: {exc}") from None
        if first is None:
            raise _Refused("malformed X12: no interchange found")
        try:
            if second is None:  # a small file: shares an export request with others
                self._batch.append(_Ready(path, size, mtime_ns, digest, self.emitter.encode(first)))
                if sum(r.encoded.count for r in self._batch) >= self.settings.export_batch_spans:
                    self._flush(report)
                return
            self._send_large(path, size, mtime_ns, digest, _prepend([first, second], chunks), report)
        except SpansRejected as exc:
            raise _Refused(f"not sent: {exc.reason}") from None
        except MalformedInterchange as exc:
            raise _Refused(f"malformed X12: {exc}") from None

    def _send_large(
        self,
        path: Path,
        size: int,
        mtime_ns: int,
        digest: str,
        chunks: Iterator[list[AgentHop]],
        report: ScanReport,
    ) -> None:
        """Send a large file chunk by chunk, remembering each acknowledged chunk; ledger it at the end."""
        done = self.ledger.chunks_done(digest)
        spans = 0
        for n, chunk in enumerate(chunks):
            if n < done:
                continue  # acknowledged before an interruption: the same spans, not sent twice
            try:
                spans += self.emitter.send([self.emitter.encode(chunk)])
            except SpansRejected:
                self.ledger.forget_progress(digest)
                raise
            except EmitError as exc:
                log.warning(
                    "EDI file %s: chunk %d not acknowledged (resumes there): %s",
                    printable(path.name),
                    n + 1,
                    exc,
                )
                report.failed.append(path.name)
                return
            self.ledger.chunk_done(digest, n + 1)
        report.spans += spans
        self._acknowledged(_Ready(path, size, mtime_ns, digest, Encoded(b"", [])), spans, report)

    def _flush(self, report: ScanReport) -> None:
        """Send the waiting small files together; ledger each only when all its spans were accepted."""
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            report.spans += self.emitter.send([r.encoded for r in batch])
        except SpansRejected as exc:
            if len(batch) == 1:
                self._refused(batch[0], exc, report)
                return
            for ready in batch:  # find which file the collector refuses: one request each (same ids)
                try:
                    report.spans += self.emitter.send([ready.encoded])
                except SpansRejected as one:
                    self._refused(ready, one, report)
                except EmitError as one:
                    self._unacknowledged([ready], one, report)
                else:
                    self._acknowledged(ready, ready.encoded.count, report)
            return
        except EmitError as exc:
            self._unacknowledged(batch, exc, report)
            return
        self.ledger.record_many([(r.path.name, r.size, r.digest) for r in batch], "processed")
        for ready in batch:
            self._acknowledged(ready, ready.encoded.count, report, recorded=True)

    def _refused(self, ready: _Ready, exc: SpansRejected, report: ScanReport) -> None:
        try:
            self._quarantine(ready.path, f"not sent: {exc.reason}", report)
        except OSError as err:
            log.warning(
                "EDI file %s could not be quarantined: %s", printable(ready.path.name), err.strerror or err
            )
            report.failed.append(ready.path.name)
            return
        self.ledger.record(ready.path.name, ready.size, ready.digest, "quarantined")

    def _unacknowledged(self, batch: list[_Ready], exc: EmitError, report: ScanReport) -> None:
        log.warning("%d EDI file(s) not acknowledged (will retry): %s", len(batch), exc)
        report.failed.extend(r.path.name for r in batch)

    def _acknowledged(self, ready: _Ready, spans: int, report: ScanReport, recorded: bool = False) -> None:
        if not recorded:
            self.ledger.record(ready.path.name, ready.size, ready.digest, "processed")
        self._done[ready.path] = (ready.size, ready.mtime_ns)
        self._watch.pop(ready.path, None)
        report.processed.append(ready.path.name)
        log.info("EDI file %s: %d span(s) accepted", printable(ready.path.name), spans)
        if self.settings.archive_dir is not None:
            self._archive(ready.path, self.settings.archive_dir)

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
            log.warning(
                "EDI file %s processed but not archived: %s", printable(path.name), exc.strerror or exc
            )

    def _quarantine(self, path: Path, reason: str, report: ScanReport) -> None:
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_dir / path.name
        if target.exists() or target.is_symlink():
            target = (
                self.quarantine_dir
                / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**9}{path.suffix}"
            )
        shutil.move(str(path), target)  # a link is moved as a link: its target is never touched
        reason = printable(reason)
        (target.parent / f"{target.name}.reason.txt").write_text(
            f"{printable(str(path))} quarantined at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
            f"reason: {reason}\n",
            encoding="utf-8",
        )
        self._watch.pop(path, None)
        report.quarantined.append(path.name)
        log.warning("EDI file %s quarantined: %s", printable(path.name), reason)


def _prepend(first: list[list[AgentHop]], rest: Iterator[list[AgentHop]]) -> Iterator[list[AgentHop]]:
    yield from first
    yield from rest


def _chunks(
    builder: _FileSpans, events: Iterator[Transaction | InterchangeEnd], size: int
) -> Iterator[list[AgentHop]]:
    """The file's hops in chunks of about ``size`` spans (the last one holds the rest)."""
    chunk: list[AgentHop] = []
    spans = 0
    for event in events:
        hops = (
            builder.transaction(event) if isinstance(event, Transaction) else builder.interchange_end(event)
        )
        chunk.extend(hops)
        spans += sum(1 for h in hops for _ in h.walk())
        if spans >= size:
            yield chunk
            chunk, spans = [], 0
    if chunk:
        yield chunk


class _Capped:
    """Distinct values in order of appearance, at most ``MAX_KEYS`` (a large file lists the first ones)."""

    def __init__(self) -> None:
        self.values: dict[str, None] = {}

    def add(self, value: str) -> None:
        if value and len(self.values) < MAX_KEYS:
            self.values[value] = None

    def attr(self) -> AttrValue | None:
        values = list(self.values)
        if not values:
            return None
        return values[0] if len(values) == 1 else values


class _FileSpans:
    """Builds the hops of one file as its transaction sets stream by (bounded memory)."""

    def __init__(
        self, file_name: str, digest: str, direction: str, start_ns: int, system_instance: str
    ) -> None:
        self.file_name = text_value(file_name)
        self.digest = digest
        self.direction = direction
        self.start_ns = start_ns
        self.system_instance = system_instance
        self.started = time.perf_counter_ns()
        self.pos: dict[int, _Capped] = {}
        self.order_ids: dict[int, _Capped] = {}
        from_name = context_from_name(file_name)
        self.name_links = [trace.get_current_span(from_name).get_span_context()] if from_name else []

    def _end(self) -> int:
        return self.start_ns + max(time.perf_counter_ns() - self.started, 1000)

    def seed(self, ic: Interchange) -> str:
        return f"edi:{self.digest}:{ic.index}"

    def base(self, ic: Interchange) -> dict[str, AttrValue]:
        return {
            c.SYSTEM_KIND: c.SystemKind.EDI.value,
            c.SYSTEM_INSTANCE: self.system_instance,
            c.CHANNEL: c.Channel.EDI.value,
            c.EDI_INTERCHANGE_CONTROL_NUMBER: text_value(ic.control_number),
            c.EDI_SENDER_ID: text_value(ic.sender_id),
            c.EDI_RECEIVER_ID: text_value(ic.receiver_id),
            EDI_INTERCHANGE_VERSION: ic.version,
            EDI_DIRECTION: self.direction,
            EDI_FILE: self.file_name,
        }

    def transaction(self, event: Transaction) -> list[AgentHop]:
        ic, tx = event.interchange, event.transaction
        base = self.base(ic)
        keys = transaction_keys(tx)
        attrs: dict[str, AttrValue] = {
            **base,
            c.EDI_GROUP_CONTROL_NUMBER: text_value(tx.group_control_number),
            c.EDI_TRANSACTION_SET: text_value(tx.code),
            c.EDI_TRANSACTION_SET_CONTROL_NUMBER: text_value(tx.control_number),
            **keys,
        }
        if tx.version:
            attrs[EDI_TRANSACTION_SET_VERSION] = text_value(tx.version)
        if tx.code in _STAGES:
            attrs[c.STAGE] = _STAGES[tx.code].value
        pos = self.pos.setdefault(ic.index, _Capped())
        po = keys.get(c.ORDER_CUSTOMER_PO)
        for value in [po] if isinstance(po, str) else list(po) if isinstance(po, list) else []:
            pos.add(value)
        oid = keys.get(c.ORDER_ID)
        if isinstance(oid, str):
            self.order_ids.setdefault(ic.index, _Capped()).add(oid)
        root = self.seed(ic)
        tx_seed = f"{root}:st:{tx.index}"
        end = self._end()
        hop = AgentHop(
            name=f"EDI {text_value(tx.code)} {SET_NAMES.get(tx.code, 'transaction set')}",
            seed=tx_seed,
            start_ns=self.start_ns,
            end_ns=end,
            attributes=attrs,
            remote_links=sender_contexts(tx),
            parent_seed=root,
            trace_seed=root,
        )
        if tx.code in ("997", "999"):
            hop.children.extend(_rejections(tx, base, tx_seed, self.start_ns, end, ic.sender_id))
            if keys.get(EDI_ACK_OUTCOME) == "rejected":
                code = str(keys.get(EDI_ACK_CODE, ""))
                group = element(tx.first("AK1"), 2)
                hop.error = (
                    f"partner {text_value(ic.sender_id)} rejected functional group {text_value(group)} "
                    f"({tx.code} AK9={code}: {ACK_CODES[code][1]})"
                )
        elif tx.code == "855" and keys.get(EDI_ACK_OUTCOME) == "rejected":
            hop.error = (
                f"partner {text_value(ic.sender_id)} rejected purchase order "
                f"{keys.get(c.ORDER_CUSTOMER_PO, '')} (855 BAK02={keys[EDI_ACK_CODE]}: {keys[EDI_ACK_MEANING]})"
            )
        return [hop]

    def interchange_end(self, event: InterchangeEnd) -> list[AgentHop]:
        ic = event.interchange
        base = self.base(ic)
        seed = self.seed(ic)
        end = self._end()
        children = [
            _envelope_exception(problem, base, f"{seed}:env:{n}", self.start_ns, end, ic)
            for n, problem in enumerate(ic.problems)
        ]
        attrs: dict[str, AttrValue] = {
            **base,
            c.BATCH_ID: text_value(f"edi:{ic.sender_id}:{ic.control_number}"),
            c.BATCH_SIZE: ic.transactions,
        }
        pos = self.pos.pop(ic.index, _Capped()).attr()
        if pos is not None:
            attrs[c.ORDER_CUSTOMER_PO] = pos
        order_ids = self.order_ids.pop(ic.index, _Capped())
        if order_ids.values:
            attrs[c.BATCH_ORDER_IDS] = list(order_ids.values)
        root = AgentHop(
            name=f"EDI interchange {text_value(ic.control_number)}",
            remote_links=list(self.name_links),
            seed=seed,
            start_ns=self.start_ns,
            end_ns=end,
            attributes=attrs,
            children=children,
            kind=SpanKind.CONSUMER if self.direction == "inbound" else SpanKind.PRODUCER,
        )
        if ic.problems:
            more = f"; and {ic.problems_dropped} more" if ic.problems_dropped else ""
            root.error = ("; ".join(p.message for p in ic.problems) + more)[:1000]
        return [root]


def transaction_keys(tx: TransactionSet) -> dict[str, AttrValue]:
    """Business keys and outcome of one transaction set (850/855/856/810/997/999; none for other sets)."""
    keys: dict[str, AttrValue | None] = {}
    vendor_orders = [element(r, 2) for r in tx.all("REF") if element(r, 1) == "VN"]
    if tx.code == "850":
        beg = tx.first("BEG")
        keys[c.ORDER_CUSTOMER_PO] = element(beg, 3)
        lines = element(tx.first("CTT"), 1) or str(tx.line_items or "")
        if lines.isdigit():
            keys[c.ORDER_LINE_COUNT] = int(lines)
    elif tx.code == "855":
        bak = tx.first("BAK")
        keys[c.ORDER_CUSTOMER_PO] = element(bak, 3)
        vendor_orders.insert(0, element(bak, 8))
        code = element(bak, 2)
        if code:
            status, meaning, outcome = BAK_CODES.get(
                code, ("unknown", "not an X12 acknowledgment type", "no_decision")
            )
            keys.update(
                {c.STATUS: status, EDI_ACK_CODE: code, EDI_ACK_MEANING: meaning, EDI_ACK_OUTCOME: outcome}
            )
    elif tx.code == "856":
        bsn = tx.first("BSN")
        keys[c.SHIPMENT_ID] = element(bsn, 2)
        pos = _Capped()
        for prf in tx.all("PRF"):
            pos.add(element(prf, 1))
        keys[c.ORDER_CUSTOMER_PO] = pos.attr()
        tracking = _Capped()
        for ref in tx.all("REF"):
            if element(ref, 1) in _TRACKING_REFS:
                tracking.add(element(ref, 2))
        for man in tx.all("MAN"):
            if element(man, 1) in _TRACKING_MAN:
                tracking.add(element(man, 2))
        if tracking.values:
            keys[c.SHIPMENT_TRACKING_NUMBER] = list(tracking.values)
        keys[c.SHIPMENT_CARRIER] = element(tx.first("TD5"), 3)
    elif tx.code == "810":
        big = tx.first("BIG")
        keys[c.INVOICE_ID] = element(big, 2)
        keys[c.ORDER_CUSTOMER_PO] = element(big, 4)
    elif tx.code in ("997", "999"):
        code = element(tx.first("AK9"), 1)
        if code:
            status, meaning, outcome = ACK_CODES.get(
                code, ("unknown", "not an X12 acknowledge code", "no_decision")
            )
            keys.update(
                {c.STATUS: status, EDI_ACK_CODE: code, EDI_ACK_MEANING: meaning, EDI_ACK_OUTCOME: outcome}
            )
        rejected = [
            number
            for _code, number, ack in ack_results(tx)
            if ACK_CODES.get(ack, ("", "", ""))[2] == "rejected"
        ]
        if rejected:
            keys[EDI_ACK_REJECTED] = rejected[:MAX_KEYS]
    order_ids = _Capped()
    for value in vendor_orders:
        order_ids.add(value)
    order_id = order_ids.attr()
    if isinstance(order_id, str):
        keys[c.ORDER_ID] = order_id
    elif isinstance(order_id, list):
        keys[c.BATCH_ORDER_IDS] = order_id
    return {k: (text_value(v) if isinstance(v, str) else v) for k, v in keys.items() if v not in (None, "")}


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
    """(AK201 set code, AK202 control number, AK501/IK501 code) for each AK2 loop of a 997 or 999."""
    results: list[tuple[str, str, str]] = []
    open_loop = False
    for seg_id, els in tx.segments:
        if seg_id == "AK2":
            results.append((element(els, 1), element(els, 2), ""))
            open_loop = True
        elif seg_id in ("AK5", "IK5") and open_loop:
            code, number, _ = results[-1]
            results[-1] = (code, number, element(els, 1))
            open_loop = False
    return results


def _rejections(
    tx: TransactionSet, base: dict[str, AttrValue], seed: str, start_ns: int, end_ns: int, partner: str
) -> list[AgentHop]:
    """An ``edi_rejected`` exception per transaction set the 997/999 rejected (or one for the group)."""
    group = element(tx.first("AK1"), 2)
    results = ack_results(tx)
    rejected = [
        (code, number, ack)
        for code, number, ack in results
        if ACK_CODES.get(ack, ("", "", ""))[2] == "rejected"
    ]
    ak9 = element(tx.first("AK9"), 1)
    if not results and ACK_CODES.get(ak9, ("", "", ""))[2] == "rejected":
        rejected = [("", "", ak9)]
    trailer = "IK5" if tx.code == "999" else "AK5"
    hops = []
    for n, (code, number, ack) in enumerate(rejected[:MAX_KEYS]):
        what = f"{code} transaction set {number} of group {group}" if number else f"functional group {group}"
        meaning = ACK_CODES[ack][1]
        message = (
            f"partner {partner} rejected {what} ({tx.code} {trailer if number else 'AK9'}={ack}: {meaning})"
        )
        attrs: dict[str, AttrValue] = {
            **base,
            c.EXCEPTION_TYPE: c.ExceptionType.EDI_REJECTED.value,
            c.EXCEPTION_OUTCOME: c.ExceptionOutcome.OPENED.value,
            c.ERROR_TYPE: c.ExceptionType.EDI_REJECTED.value,
            c.EDI_GROUP_CONTROL_NUMBER: text_value(group),
            EDI_ACK_CODE: ack,
        }
        if number:
            attrs[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] = text_value(number)
            attrs[c.EDI_TRANSACTION_SET] = text_value(code)
        hops.append(
            AgentHop(
                name=f"EDI {tx.code} rejection",
                seed=f"{seed}:rej:{n}",
                start_ns=start_ns,
                end_ns=end_ns,
                attributes=attrs,
                error=text_value(message),
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
        attrs[c.EDI_GROUP_CONTROL_NUMBER] = text_value(problem.control_number)
    if problem.level == "transaction" and problem.control_number:
        attrs[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] = text_value(problem.control_number)
    message = f"envelope error in interchange {ic.control_number} from {ic.sender_id}: {problem.message}"
    return AgentHop(
        name="EDI envelope error",
        seed=seed,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=attrs,
        error=text_value(message),
    )
