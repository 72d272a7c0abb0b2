"""X12 reading: the delimiters the ISA declares, whatever they are; what real senders do around them."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest

from collector.agents.x12 import (
    InterchangeEnd,
    MalformedInterchange,
    Transaction,
    parse_file,
    read,
    read_delimiters,
    transactions_of,
)

BASE = (Path(__file__).parent / "fixtures" / "850_two_orders.x12").read_text()


def interchanges(data: bytes) -> list[InterchangeEnd]:
    return [e for e in read(io.BytesIO(data)) if isinstance(e, InterchangeEnd)]


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("newline as segment terminator", BASE.replace("~\n", "\n")),
        ("CR LF after each terminator", BASE.replace("~\n", "~\r\n")),
        ("CR after each terminator", BASE.replace("~\n", "~\r")),
        ("CR LF as segment terminator", BASE.replace("~\n", "\r\n")),
        ("one line", BASE.replace("~\n", "~")),
        (
            "wrapped at 80 characters",
            "\n".join(BASE.replace("~\n", "~")[i : i + 80] for i in range(0, 2000, 80)),
        ),
        ("pipe element separator", BASE.replace("*", "|")),
        ("caret terminator, colon sub-element", BASE.replace("~", "^").replace(">^", ":^")),
        ("last segment without terminator", BASE.rstrip("~\n")),
        ("indented segments", BASE.replace("~\n", "~\n    ")),
        ("blank lines between segments", BASE.replace("~\n", "~\n\n")),
    ],
)
def test_declared_delimiters_and_line_breaks_are_honoured(tmp_path: Path, label: str, text: str) -> None:
    path = tmp_path / "in.x12"
    path.write_text(text, encoding="latin-1")
    (ic,) = parse_file(path)
    assert ic.control_number == "000000101" and ic.sender_id == "ACMERETAIL", label
    assert [(t.code, t.control_number) for t in transactions_of(path)] == [("850", "0001"), ("850", "0002")]
    assert ic.problems == [], label


@pytest.mark.parametrize(
    ("label", "encode"),
    [
        ("UTF-8 BOM", lambda t: codecs.BOM_UTF8 + t.encode()),
        ("UTF-16 LE BOM", lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le")),
        ("UTF-16 BE BOM", lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be")),
        ("UTF-32 LE BOM", lambda t: codecs.BOM_UTF32_LE + t.encode("utf-32-le")),
        ("UTF-16 LE without BOM", lambda t: t.encode("utf-16-le")),
        ("leading blank line", lambda t: b"\r\n" + t.encode()),
    ],
)
def test_byte_order_marks_and_wide_encodings(label: str, encode: object) -> None:
    data = encode(BASE)  # type: ignore[operator]
    (end,) = interchanges(data)
    assert end.interchange.control_number == "000000101", label
    assert end.interchange.transactions == 2


def test_bytes_that_are_not_utf8_are_read_as_latin1() -> None:
    text = BASE.replace("N1*ST*ACME DC 4", "N1*ST*M\xdcLLER")  # Ü as one Latin-1 byte
    events = list(read(io.BytesIO(text.encode("latin-1")), keep=frozenset({"N1"})))
    names = [els[1] for e in events if isinstance(e, Transaction) for sid, els in e.transaction.segments]
    assert "MÜLLER" in names


@pytest.mark.parametrize("version", ["00200", "00204", "00300", "00304", "00400", "00401", "00403", "00406",
                                     "00501", "00601", "00801"])  # fmt: skip
def test_interchange_versions_00200_to_00801_are_read_and_recorded(version: str) -> None:
    (end,) = interchanges(BASE.replace("*U*00401*", f"*U*{version}*", 1).encode())
    assert end.interchange.version == version


@pytest.mark.parametrize("version", ["00100", "00802", "0040X", "99999"])
def test_other_interchange_versions_are_named(version: str) -> None:
    with pytest.raises(
        MalformedInterchange, match="ISA12 is not an X12 interchange version this agent reads"
    ):
        interchanges(BASE.replace("*U*00401*", f"*U*{version}*", 1).encode())


def test_isa_that_is_not_fixed_width_is_read_when_its_delimiters_are_unambiguous() -> None:
    short = BASE.replace("ACMERETAIL     ", "ACMERETAIL", 1).replace(
        "*00*          *00*          *", "*00* *00* *", 1
    )
    (end,) = interchanges(short.encode())
    assert end.interchange.sender_id == "ACMERETAIL"
    assert end.interchange.fixed_width is False
    assert interchanges(BASE.encode())[0].interchange.fixed_width is True


def test_several_interchanges_in_one_file(tmp_path: Path) -> None:
    second = BASE.replace("000000101", "000000102").replace("*101*", "*102*").replace("GE*2*101", "GE*2*102")
    path = tmp_path / "two.x12"
    path.write_text(BASE + second)
    assert [(ic.control_number, ic.transactions, ic.problems) for ic in parse_file(path)] == [
        ("000000101", 2, []),
        ("000000102", 2, []),
    ]


def test_data_after_the_last_interchange_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tail.x12"
    path.write_text(BASE + "GARBAGE WITHOUT TERMINATOR")
    with pytest.raises(MalformedInterchange, match="segment 20 does not start with a segment id"):
        parse_file(path)
    path.write_text(BASE + "REF*ZZ*LATE~")
    with pytest.raises(MalformedInterchange, match=r"segment 20 \(REF\) is outside an interchange"):
        parse_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE[:200], "truncated: transaction set 0001 has no SE"),
        (BASE[:60], "truncated ISA: it needs 16 elements"),
        (BASE.replace("IEA*1*000000101~\n", ""), "truncated: interchange 000000101 has no IEA"),
        (BASE[:103] + "*~~" + BASE[106:], "invalid segment terminator '~' after ISA16"),  # same as ISA16
        (BASE[:104] + "A" + BASE[105:], "invalid sub-element separator 'A' in ISA16"),
        (BASE[:105] + "*" + BASE[106:], r"invalid segment terminator '\*' after ISA16"),
        ("ISA1" + BASE[4:], "invalid element separator '1' after ISA"),
        ("root:x:0:0:root:/root:/bin/bash\n", "does not begin with an ISA segment"),
        ("", "empty file"),
        ("ISA*00*\x00\x01\x02" + BASE[10:], "binary data"),
        (
            BASE.replace("ST*850*0002", "ST*850*0002~ST*850*0003", 1),
            "ST before the SE of transaction set 0002",
        ),
    ],
)
def test_malformed_files_are_named_without_quoting_them(text: str, message: str) -> None:
    with pytest.raises(MalformedInterchange, match=message) as raised:
        interchanges(text.encode("latin-1"))
    assert "root" not in str(raised.value) and "ACME" not in str(raised.value)


def test_a_line_break_inside_an_isa_terminated_by_line_breaks_is_named() -> None:
    broken = BASE.replace("~\n", "\n").replace("*1430*U*", "*14\n30*U*", 1)
    with pytest.raises(MalformedInterchange, match="the ISA segment is cut by a line break"):
        interchanges(broken.encode())


def test_envelope_disagreements_are_problems_not_refusals() -> None:
    text = BASE.replace("SE*6*0002", "SE*9*0002").replace("IEA*1*000000101", "IEA*1*000000999")
    (end,) = interchanges(text.encode())
    messages = [p.message for p in end.interchange.problems]
    assert "SE01 segment count is wrong: SE01 says 9 for ST02 0002, the set has 6" in messages
    assert "ISA13/IEA02 control number mismatch: IEA02 000000999 does not match ISA13 000000101" in messages


def test_read_delimiters() -> None:
    d = read_delimiters(BASE.replace("*U*00401*", "*^*00501*", 1))
    assert (d.element, d.sub_element, d.segment, d.repetition) == ("*", ">", "~", "^")
