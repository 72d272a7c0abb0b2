"""Tolerant, streaming reading of ANSI X12 interchanges: envelopes, delimiters and the keys an order tower needs.

What trading partners really send is read, as the widely used parsers do:

- a byte-order mark (UTF-8, UTF-16, UTF-32) or none; text that is not valid UTF-8 is read byte by byte
  as Latin-1, so no file is refused for its encoding;
- any interchange version ISA12 from 00200 to 00801 (recorded on the span);
- an ISA that is not fixed-width, when its delimiters are unambiguous: the element separator is the
  character after ``ISA``, ISA16 the character after the 16th separator, the segment terminator the
  character after ISA16;
- CR, LF or CR LF after the terminators, lines wrapped at any width (when the terminator is not a line
  break, line breaks are not data), leading blanks before a segment, and a last segment without its
  terminator.

The file is read 1 MiB at a time and transaction sets are yielded as they end, so a 50 MiB file is
never in memory. Two kinds of problems:

- :class:`MalformedInterchange`: the file cannot be trusted at all (not X12, truncated, delimiters that
  collide, segments outside an envelope). The caller quarantines it. Messages never quote the file's
  content (it may not be X12 at all): they name positions, counts and delimiters.
- :class:`EnvelopeProblem`: the file parses but its envelope disagrees with itself (control numbers,
  counts, duplicates). Reported on the :class:`Interchange`; the caller emits exception spans.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from storage.errors import TowerError

CHUNK_BYTES = 1024 * 1024
MIN_VERSION, MAX_VERSION = "00200", "00801"
MAX_PROBLEMS = 100  # envelope problems kept per interchange (the rest are counted)
MAX_KEPT_SEGMENTS = 20_000  # kept segments per transaction set (the rest are counted)
_SEG_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")  # control characters no X12 text contains

SET_NAMES = {
    "850": "purchase order",
    "855": "purchase order acknowledgment",
    "856": "ship notice",
    "810": "invoice",
    "997": "functional acknowledgment",
    "999": "implementation acknowledgment",
    "204": "motor carrier load tender",
    "210": "freight invoice",
    "214": "shipment status",
    "270": "eligibility inquiry",
    "271": "eligibility response",
    "820": "payment order",
    "830": "planning schedule",
    "835": "claim payment",
    "837": "health care claim",
    "860": "purchase order change",
    "865": "purchase order change acknowledgment",
    "940": "warehouse shipping order",
    "943": "stock transfer shipment advice",
    "944": "stock transfer receipt advice",
    "945": "warehouse shipping advice",
}
# segments whose elements the transaction-set readers need; everything else is only counted
KEPT = frozenset(
    {"BEG", "BAK", "BSN", "PRF", "REF", "MAN", "TD5", "BIG", "AK1", "AK2", "AK5", "AK9", "IK5", "CTT"}
)
_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 are read as Latin-1 (what an 8-bit X12 file most likely is)."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("x12-latin1", _latin1_fallback)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class MalformedInterchange(TowerError, ValueError):
    """The file is not a readable X12 interchange; the message says why (for the reason file)."""


def _char(c: str) -> str:
    """A delimiter as it can be shown in a reason: printable ASCII as itself, anything else by code point."""
    return repr(c) if " " < c < "\x7f" else f"U+{ord(c):04X}"


@dataclass(frozen=True)
class EnvelopeProblem:
    level: str  # interchange | group | transaction
    control_number: str
    message: str


@dataclass(frozen=True)
class Delimiters:
    element: str
    sub_element: str
    segment: str
    repetition: str | None


@dataclass
class Group:
    functional_id: str  # GS01
    control_number: str  # GS06
    version: str  # GS08
    transactions: int = 0
    seen: set[str] = field(default_factory=set)  # ST02s, for duplicates


@dataclass
class Interchange:
    index: int  # 0-based position in the file
    control_number: str  # ISA13
    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    version: str  # ISA12
    usage: str  # ISA15 P/T
    fixed_width: bool = True
    groups: int = 0
    transactions: int = 0
    problems: list[EnvelopeProblem] = field(default_factory=list)
    problems_dropped: int = 0

    def problem(self, level: str, number: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(EnvelopeProblem(level, number, message))
        else:
            self.problems_dropped += 1


@dataclass
class TransactionSet:
    code: str  # ST01, e.g. 850
    control_number: str  # ST02
    group_control_number: str  # GS06 of its group
    index: int = 0  # 0-based position in its interchange
    version: str = ""  # ST03 implementation reference, else GS08
    segment_count: int = 0
    line_items: int = 0  # PO1 segments
    segments: list[tuple[str, list[str]]] = field(default_factory=list)  # the kept segments
    segments_dropped: int = 0

    def first(self, seg_id: str) -> list[str] | None:
        return next((els for sid, els in self.segments if sid == seg_id), None)

    def all(self, seg_id: str) -> list[list[str]]:
        return [els for sid, els in self.segments if sid == seg_id]


@dataclass(frozen=True)
class InterchangeEnd:
    """Yielded after an IEA: the interchange is complete (its problems are final)."""

    interchange: Interchange


@dataclass(frozen=True)
class Transaction:
    """Yielded after an SE: one complete transaction set of ``interchange``."""

    interchange: Interchange
    transaction: TransactionSet


def element(els: list[str] | None, position: int) -> str:
    """The value of element ``position`` (1-based, as in BEG03) or ``""``."""
    if els is None or position > len(els):
        return ""
    return els[position - 1].strip()


def read_delimiters(head: str) -> Delimiters:
    """Delimiters declared by the ISA at the start of ``head``; raises :class:`MalformedInterchange`."""
    return _read_isa(head)[0]


def _read_isa(head: str) -> tuple[Delimiters, bool]:
    """(delimiters, fixed_width) of the ISA ``head`` starts with."""
    if not head.startswith("ISA"):
        raise MalformedInterchange("does not begin with an ISA segment")
    if len(head) < 4:
        raise MalformedInterchange("truncated: the file ends inside the ISA segment")
    sep = head[3]
    if sep.isalnum() or sep.isspace():
        raise MalformedInterchange(
            f"invalid element separator {_char(sep)} after ISA (a letter, digit or blank)"
        )
    positions: list[int] = []
    at = 3
    while len(positions) < 16:
        at = head.find(sep, at)
        if at < 0:
            break
        positions.append(at)
        at += 1
    if len(positions) < 16 or len(head) < positions[15] + 3:
        raise MalformedInterchange(
            f"truncated ISA: it needs 16 elements separated by {_char(sep)} followed by a segment "
            f"terminator; the first {len(head)} characters hold {len(positions)}"
        )
    sub, term = head[positions[15] + 1], head[positions[15] + 2]
    if sub.isalnum() or sub == sep or sub.isspace():
        raise MalformedInterchange(f"invalid sub-element separator {_char(sub)} in ISA16")
    if term.isalnum() or term in (sep, sub, " ", "\t"):
        raise MalformedInterchange(f"invalid segment terminator {_char(term)} after ISA16")
    isa = head[: positions[15] + 2]
    if term in "\r\n":
        if "\r" in isa or "\n" in isa:
            raise MalformedInterchange(
                "the ISA segment is cut by a line break, which the file uses as its segment terminator"
            )
    elif term in isa:
        raise MalformedInterchange(f"the segment terminator {_char(term)} appears inside the ISA segment")
    flat = isa.replace("\r", "").replace("\n", "")
    els = flat.split(sep)
    version = els[12].strip()
    if not (len(version) == 5 and version.isdigit() and MIN_VERSION <= version <= MAX_VERSION):
        raise MalformedInterchange(
            "ISA12 is not an X12 interchange version this agent reads "
            f"({MIN_VERSION} to {MAX_VERSION}, five digits)"
        )
    rep = els[11].strip()
    repetition = None
    if version >= "00402" and len(rep) == 1 and not rep.isalnum() and rep not in (sep, sub, term, " "):
        repetition = rep
    fixed = len(flat) == 105 and all(flat[p] == sep for p in _ISA_SEPARATOR_POSITIONS)
    return Delimiters(element=sep, sub_element=sub, segment=term, repetition=repetition), fixed


# positions of the element separator inside a fixed-width ISA segment
_ISA_SEPARATOR_POSITIONS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)


def _decoder(head: bytes) -> tuple[codecs.IncrementalDecoder, int]:
    """Incremental decoder for the file's encoding (by byte-order mark) and the BOM length."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return codecs.getincrementaldecoder(name)("strict" if name != "utf-8" else "x12-latin1"), len(bom)
    if head.startswith(b"I\x00S\x00A\x00"):  # UTF-16 without a byte-order mark
        return codecs.getincrementaldecoder("utf-16-le")("strict"), 0
    if head.startswith(b"\x00I\x00S\x00A"):
        return codecs.getincrementaldecoder("utf-16-be")("strict"), 0
    return codecs.getincrementaldecoder("utf-8")("x12-latin1"), 0


def _texts(fh: BinaryIO) -> Iterator[str]:
    """The file's text in chunks of about 1 MiB, decoded by its byte-order mark."""
    first = fh.read(CHUNK_BYTES)
    decoder, skip = _decoder(first)
    try:
        text = decoder.decode(first[skip:])
        if text:
            yield text
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise MalformedInterchange(
            f"not text in the encoding its byte-order mark declares: {exc.reason}"
        ) from None
    if tail:
        yield tail


def read(fh: BinaryIO, keep: frozenset[str] = KEPT) -> Iterator[Transaction | InterchangeEnd]:
    """Every transaction set and interchange end of the file, as they complete (bounded memory).

    Raises :class:`MalformedInterchange` (possibly after yielding: the caller must not trust a
    file before the iterator is exhausted).
    """
    texts = _texts(fh)
    head = ""
    for text in texts:
        head += text
        if len(head.lstrip()) >= 4096:
            break
    start = head.lstrip()
    if not start:
        raise MalformedInterchange("empty file")
    if _BINARY.search(start[:4096]):
        raise MalformedInterchange("binary data: not an X12 text file")
    delims, fixed = _read_isa(start)
    walk = _Walk(delims, keep, fixed)

    def chunks() -> Iterator[str]:
        yield start
        yield from texts

    yield from walk.run(chunks())


def read_file(path: Path, keep: frozenset[str] = KEPT) -> Iterator[Transaction | InterchangeEnd]:
    with open(path, "rb") as fh:
        yield from read(fh, keep)


def parse_file(path: Path) -> list[Interchange]:
    """Every interchange of ``path`` (small files and tests: the transaction sets are not kept)."""
    return [event.interchange for event in read_file(path) if isinstance(event, InterchangeEnd)]


def transactions_of(path: Path) -> list[TransactionSet]:
    return [event.transaction for event in read_file(path) if isinstance(event, Transaction)]


class _Walk:
    """The envelope state machine over the segments of one file."""

    def __init__(self, delims: Delimiters, keep: frozenset[str], fixed: bool) -> None:
        self.d = delims
        self.keep = keep
        self.first_fixed = fixed
        self.ic: Interchange | None = None
        self.group: Group | None = None
        self.tx: TransactionSet | None = None
        self.segment_no = 0
        self.interchanges = 0
        self.control_numbers: set[str] = set()
        self.group_numbers: set[str] = set()

    def _segments(self, chunks: Iterator[str]) -> Iterator[str]:
        term = self.d.segment
        newline_terminated = term in "\r\n"
        rest = ""
        for chunk in chunks:
            if newline_terminated:
                chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
                term = "\n"
            else:
                chunk = chunk.replace("\r", "").replace("\n", "")
            parts = (rest + chunk).split(term)
            rest = parts.pop()
            for part in parts:
                part = part.lstrip()
                if part:
                    yield part
        rest = rest.strip()
        if rest:
            yield rest  # a last segment without its terminator

    def run(self, chunks: Iterator[str]) -> Iterator[Transaction | InterchangeEnd]:
        sep = self.d.element
        keep = self.keep
        for segment in self._segments(chunks):
            self.segment_no += 1
            cut = segment.find(sep)
            seg_id = segment if cut < 0 else segment[:cut]
            if seg_id in _ENVELOPE:
                event = self._envelope(seg_id, segment.split(sep)[1:])
                if event is not None:
                    yield event
                continue
            if not _SEG_ID.match(seg_id):
                if _BINARY.search(segment):
                    raise MalformedInterchange(f"binary data in segment {self.segment_no}")
                raise MalformedInterchange(
                    f"segment {self.segment_no} does not start with a segment id (2 or 3 letters and digits) "
                    f"followed by the element separator {_char(sep)}: wrong delimiters? The ISA declares "
                    f"element separator {_char(sep)} and segment terminator {_char(self.d.segment)}"
                )
            tx = self.tx
            if tx is None:
                where = "an interchange" if self.ic is None else "a transaction set"
                raise MalformedInterchange(f"segment {self.segment_no} ({seg_id}) is outside {where}")
            tx.segment_count += 1
            if seg_id == "PO1":
                tx.line_items += 1
            elif seg_id in keep:
                if len(tx.segments) < MAX_KEPT_SEGMENTS:
                    tx.segments.append((seg_id, segment.split(sep)[1:]))
                else:
                    tx.segments_dropped += 1
        self._finish()

    def _finish(self) -> None:
        if self.tx is not None:
            raise MalformedInterchange(
                f"truncated: transaction set {self.tx.control_number} has no SE (the file ends after "
                f"segment {self.segment_no})"
            )
        if self.group is not None:
            raise MalformedInterchange(f"truncated: functional group {self.group.control_number} has no GE")
        if self.ic is not None:
            raise MalformedInterchange(f"truncated: interchange {self.ic.control_number} has no IEA")
        if self.interchanges == 0:
            raise MalformedInterchange("no interchange found")

    def _envelope(self, seg_id: str, els: list[str]) -> Transaction | InterchangeEnd | None:
        no = self.segment_no
        if seg_id == "ISA":
            if self.ic is not None:
                raise MalformedInterchange(
                    f"segment {no}: ISA before the IEA of interchange {self.ic.control_number}"
                )
            if len(els) != 16:
                raise MalformedInterchange(f"segment {no}: the ISA has {len(els)} elements, not 16")
            if els[15][:1] != self.d.sub_element:
                raise MalformedInterchange(
                    f"segment {no}: this interchange declares other delimiters than the first one of the file"
                )
            version = els[11].strip()
            if not (len(version) == 5 and version.isdigit() and MIN_VERSION <= version <= MAX_VERSION):
                raise MalformedInterchange(
                    f"segment {no}: ISA12 is not an X12 interchange version this agent reads "
                    f"({MIN_VERSION} to {MAX_VERSION})"
                )
            new = Interchange(
                index=self.interchanges,
                control_number=els[12].strip(),
                sender_id=els[5].strip(),
                receiver_id=els[7].strip(),
                date=els[8].strip(),
                time=els[9].strip(),
                version=version,
                usage=els[14].strip(),
                fixed_width=self.first_fixed if self.interchanges == 0 else True,
            )
            if new.control_number in self.control_numbers:
                new.problem("interchange", new.control_number, "duplicate ISA13 control number in the file")
            self.control_numbers.add(new.control_number)
            self.group_numbers = set()
            self.interchanges += 1
            self.ic = new
            return None
        current = self.ic
        if current is None:
            raise MalformedInterchange(f"segment {no} ({seg_id}) is outside an interchange")
        ic = current
        if seg_id == "GS":
            if self.group is not None:
                raise MalformedInterchange(
                    f"segment {no}: GS before the GE of group {self.group.control_number}"
                )
            self.group = Group(
                functional_id=element(els, 1), control_number=element(els, 6), version=element(els, 8)
            )
            if self.group.control_number in self.group_numbers:
                ic.problem(
                    "group", self.group.control_number, "duplicate GS06 control number in the interchange"
                )
            self.group_numbers.add(self.group.control_number)
            ic.groups += 1
            return None
        if seg_id == "ST":
            if self.group is None:
                raise MalformedInterchange(f"segment {no}: ST outside a functional group")
            if self.tx is not None:
                raise MalformedInterchange(
                    f"segment {no}: ST before the SE of transaction set {self.tx.control_number}"
                )
            number = element(els, 2)
            if number in self.group.seen:
                ic.problem("transaction", number, "duplicate ST02 control number in the group")
            self.group.seen.add(number)
            self.tx = TransactionSet(
                code=element(els, 1),
                control_number=number,
                group_control_number=self.group.control_number,
                index=ic.transactions,
                version=element(els, 3) or self.group.version,
                segment_count=1,
            )
            return None
        if seg_id == "SE":
            tx = self.tx
            if tx is None:
                raise MalformedInterchange(f"segment {no}: SE without its ST")
            tx.segment_count += 1
            declared, number = element(els, 1), element(els, 2)
            if number != tx.control_number:
                ic.problem(
                    "transaction",
                    tx.control_number,
                    f"ST02/SE02 control number mismatch: SE02 {number} does not match ST02 {tx.control_number}",
                )
            if declared != str(tx.segment_count):
                ic.problem(
                    "transaction",
                    tx.control_number,
                    f"SE01 segment count is wrong: SE01 says {declared} for ST02 {tx.control_number}, "
                    f"the set has {tx.segment_count}",
                )
            assert self.group is not None
            self.group.transactions += 1
            ic.transactions += 1
            self.tx = None
            return Transaction(ic, tx)
        if seg_id == "GE":
            group = self.group
            if group is None or self.tx is not None:
                raise MalformedInterchange(
                    f"segment {no}: GE outside a functional group or inside a transaction set"
                )
            declared, number = element(els, 1), element(els, 2)
            if number != group.control_number:
                ic.problem(
                    "group",
                    group.control_number,
                    f"GS06/GE02 control number mismatch: GE02 {number} does not match GS06 {group.control_number}",
                )
            if declared != str(group.transactions):
                ic.problem(
                    "group",
                    group.control_number,
                    f"GE01 transaction set count is wrong: GE01 says {declared}, the group has "
                    f"{group.transactions}",
                )
            self.group = None
            return None
        # IEA
        if self.group is not None or self.tx is not None:
            raise MalformedInterchange(f"segment {no}: IEA inside an open functional group")
        declared, number = element(els, 1), element(els, 2)
        if number != ic.control_number:
            ic.problem(
                "interchange",
                ic.control_number,
                f"ISA13/IEA02 control number mismatch: IEA02 {number} does not match ISA13 {ic.control_number}",
            )
        if declared != str(ic.groups):
            ic.problem(
                "interchange",
                ic.control_number,
                f"IEA01 functional group count is wrong: IEA01 says {declared}, the interchange has {ic.groups}",
            )
        self.ic = None
        return InterchangeEnd(ic)
