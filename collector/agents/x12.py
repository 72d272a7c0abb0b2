"""Strict reading of ANSI X12 interchanges: envelopes, delimiters and the keys of 850/855/856/810/997.

Segments are read with pyx12's streaming reader (delimiters from the ISA segment, 8 KiB at a time,
envelope bookkeeping: ISA13/IEA02, GS06/GE02, ST02/SE02, SE01, GE01 and IEA01 counts). This
module adds what an order tower needs on top: a strict check of the fixed-width ISA, refusal of
binary or truncated data, and the business keys of each transaction set.

Two kinds of problems:

- :class:`MalformedInterchange`: the file cannot be trusted at all (not X12, truncated, wrong
  delimiters, binary junk). The caller quarantines it.
- :class:`EnvelopeProblem`: the file parses but its envelope disagrees with itself (control number
  mismatch, wrong counts). Reported on the parsed :class:`Interchange`; the caller emits
  exception spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pyx12.errors
import pyx12.segment
from pyx12.x12file import X12Reader

from storage.errors import TowerError

ISA_LEN = 106
# positions of the element separator inside the fixed-width ISA segment
_ISA_SEPARATOR_POSITIONS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
_SEG_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")  # control characters no X12 text contains

SET_NAMES = {
    "850": "purchase order",
    "855": "purchase order acknowledgment",
    "856": "ship notice",
    "810": "invoice",
    "997": "functional acknowledgment",
}
# segments whose elements the transaction-set readers need; everything else is only counted
_KEPT = {
    "BEG",
    "BAK",
    "BSN",
    "PRF",
    "REF",
    "MAN",
    "TD5",
    "BIG",
    "AK1",
    "AK2",
    "AK3",
    "AK5",
    "AK9",
    "PO1",
    "CTT",
}


_WHAT = {
    ("isa", "001"): "ISA13/IEA02 control number mismatch",
    ("isa", "021"): "IEA01 functional group count is wrong",
    ("isa", "025"): "duplicate ISA13 control number",
    ("gs", "4"): "GS06/GE02 control number mismatch",
    ("gs", "5"): "GE01 transaction set count is wrong",
    ("gs", "6"): "duplicate GS06 control number",
    ("st", "3"): "ST02/SE02 control number mismatch",
    ("st", "4"): "SE01 segment count is wrong",
    ("st", "23"): "duplicate ST02 control number",
}


class MalformedInterchange(TowerError, ValueError):
    """The file is not a readable X12 interchange; the message says why (for the reason file)."""


@dataclass(frozen=True)
class EnvelopeProblem:
    level: str  # interchange | group | transaction
    control_number: str
    message: str


@dataclass
class TransactionSet:
    code: str  # ST01, e.g. 850
    control_number: str  # ST02
    group_control_number: str  # GS06 of its group
    segment_count: int = 0
    segments: list[tuple[str, list[str]]] = field(default_factory=list)  # the kept segments

    def first(self, seg_id: str) -> list[str] | None:
        return next((els for sid, els in self.segments if sid == seg_id), None)

    def all(self, seg_id: str) -> list[list[str]]:
        return [els for sid, els in self.segments if sid == seg_id]


@dataclass
class Group:
    functional_id: str  # GS01
    control_number: str  # GS06
    version: str  # GS08


@dataclass
class Interchange:
    control_number: str  # ISA13
    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    version: str  # ISA12
    usage: str  # ISA15 P/T
    groups: list[Group] = field(default_factory=list)
    transactions: list[TransactionSet] = field(default_factory=list)
    problems: list[EnvelopeProblem] = field(default_factory=list)


@dataclass
class Delimiters:
    element: str
    sub_element: str
    segment: str
    repetition: str | None


def element(els: list[str] | None, position: int) -> str:
    """The value of element ``position`` (1-based, as in BEG03) or ``""``."""
    if els is None or position > len(els):
        return ""
    return els[position - 1].strip()


def read_delimiters(isa: str) -> Delimiters:
    """Delimiters declared by a 106-character ISA segment; raises :class:`MalformedInterchange`."""
    if not isa.startswith("ISA"):
        raise MalformedInterchange(f"does not begin with an ISA segment (starts with {isa[:3]!r})")
    if len(isa) < ISA_LEN:
        raise MalformedInterchange(
            f"truncated: the ISA segment needs {ISA_LEN} characters, the file has {len(isa)}"
        )
    sep = isa[3]
    if sep.isalnum() or sep.isspace():
        raise MalformedInterchange(f"invalid element separator {sep!r} in ISA position 4")
    wrong = [p + 1 for p in _ISA_SEPARATOR_POSITIONS if isa[p] != sep]
    if wrong:
        raise MalformedInterchange(
            f"ISA is not fixed-width: element separator {sep!r} expected at character(s) "
            f"{', '.join(map(str, wrong[:5]))} (wrong delimiters or padded fields)"
        )
    sub, term = isa[104], isa[105]
    if sub.isalnum() or sub in (sep, " "):
        raise MalformedInterchange(f"invalid sub-element separator {sub!r} in ISA16")
    if term.isalnum() or term in (sep, sub, " "):
        raise MalformedInterchange(f"invalid segment terminator {term!r} after ISA16")
    rep = isa[82]
    repetition = None if rep == "U" or isa[84:89] < "00402" else rep
    if repetition is not None and (repetition.isalnum() or repetition in (sep, sub, term)):
        raise MalformedInterchange(f"invalid repetition separator {repetition!r} in ISA11")
    return Delimiters(element=sep, sub_element=sub, segment=term, repetition=repetition)


def parse_file(path: Path) -> list[Interchange]:
    """Read every interchange of ``path`` (streamed; never the whole file in memory)."""
    with open(path, encoding="latin-1", newline="") as fh:
        return parse_stream(fh)


def parse_stream(fh: TextIO) -> list[Interchange]:
    head = fh.read(ISA_LEN)
    if not head.strip():
        raise MalformedInterchange("empty file")
    if _BINARY.search(head):
        raise MalformedInterchange("binary data: not an X12 text file")
    delims = read_delimiters(head.lstrip("\r\n") if head.startswith(("\r", "\n")) else head)
    fh.seek(0)
    try:
        reader = X12Reader(fh)
    except pyx12.errors.X12Error as exc:
        raise MalformedInterchange(str(exc)) from None
    return _Walk(reader, delims).run()


class _Walk:
    def __init__(self, reader: X12Reader, delims: Delimiters) -> None:
        self.reader = reader
        self.delims = delims
        self.interchanges: list[Interchange] = []
        self.group: Group | None = None
        self.tx: TransactionSet | None = None
        self.segment_no = 0

    def run(self) -> list[Interchange]:
        try:
            for seg in self.reader:
                self.segment_no += 1
                self._segment(seg)
                self._collect_problems()
        except pyx12.errors.X12Error as exc:
            raise MalformedInterchange(f"segment {self.segment_no + 1}: {exc}") from None
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
            raise MalformedInterchange(f"not text: {exc}") from None
        rest = self.reader.raw.buffer + self.reader.raw.fd.read(4096)
        if rest.strip("\r\n\t "):
            where = f"after segment {self.segment_no}"
            if _BINARY.search(rest):
                raise MalformedInterchange(f"binary data {where}")
            if self.interchanges and self.reader.loops == []:
                raise MalformedInterchange(f"unexpected data {where}: {rest.strip()[:40]!r}")
            raise MalformedInterchange(
                f"truncated: data without a segment terminator {self.delims.segment!r} {where}: "
                f"{rest.strip()[:40]!r}"
            )
        self.reader.cleanup()
        missing = [
            msg for kind, _code, msg, _v, _l in self.reader.pop_errors() if kind in ("isa", "gs", "st")
        ]
        if missing:
            raise MalformedInterchange("truncated interchange: " + "; ".join(missing))
        if not self.interchanges:
            raise MalformedInterchange("no interchange found")
        for ic in self.interchanges:
            if not ic.transactions:
                raise MalformedInterchange(f"interchange {ic.control_number} holds no transaction set")
        return self.interchanges

    def _segment(self, seg: pyx12.segment.Segment) -> None:
        seg_id = seg.get_seg_id() or ""
        if not _SEG_ID.match(seg_id):
            raise MalformedInterchange(
                f"segment {self.segment_no}: invalid segment id {seg_id[:20]!r} "
                f"(wrong delimiters? the ISA declares element separator {self.delims.element!r} "
                f"and segment terminator {self.delims.segment!r})"
            )
        needs_elements = seg_id in _KEPT or seg_id in ("ISA", "GS", "ST")
        els = [e.format() for e in seg.elements] if needs_elements else []
        if seg_id == "ISA":
            self.interchanges.append(
                Interchange(
                    control_number=element(els, 13),
                    sender_id=element(els, 6),
                    receiver_id=element(els, 8),
                    date=element(els, 9),
                    time=element(els, 10),
                    version=element(els, 12),
                    usage=element(els, 15),
                )
            )
            return
        if not self.interchanges or (self.reader.get_isa_id() is None and seg_id != "IEA"):
            raise MalformedInterchange(f"segment {self.segment_no} ({seg_id}) is outside an interchange")
        ic = self.interchanges[-1]
        if seg_id == "GS":
            self.group = Group(
                functional_id=element(els, 1), control_number=element(els, 6), version=element(els, 8)
            )
            ic.groups.append(self.group)
        elif seg_id == "ST":
            if self.group is None:
                raise MalformedInterchange(f"segment {self.segment_no}: ST outside a functional group")
            self.tx = TransactionSet(
                code=element(els, 1),
                control_number=element(els, 2),
                group_control_number=self.group.control_number,
            )
            self.tx.segment_count = 1
            ic.transactions.append(self.tx)
        elif seg_id == "SE":
            if self.tx is not None:
                self.tx.segment_count += 1
            self.tx = None
        elif seg_id == "GE":
            self.group = None
        elif seg_id != "IEA":
            if self.tx is None:
                raise MalformedInterchange(
                    f"segment {self.segment_no} ({seg_id}) is outside a transaction set"
                )
            self.tx.segment_count += 1
            if seg_id in _KEPT:
                self.tx.segments.append((seg_id, els))

    def _collect_problems(self) -> None:
        for kind, _code, message, _value, _line in self.reader.pop_errors():
            if kind == "seg":
                continue  # segment-level notes (HL counts, trailing separators) are not envelope errors
            ic = self.interchanges[-1] if self.interchanges else None
            if ic is None:
                continue
            level = {"isa": "interchange", "gs": "group", "st": "transaction"}[kind]
            message = f"{_WHAT.get((kind, _code), 'envelope error')}: {message}"
            number = {
                "interchange": ic.control_number,
                "group": self.group.control_number
                if self.group
                else (ic.groups[-1].control_number if ic.groups else ""),
                "transaction": ic.transactions[-1].control_number if ic.transactions else "",
            }[level]
            ic.problems.append(EnvelopeProblem(level=level, control_number=number, message=message))
