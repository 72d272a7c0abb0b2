"""X12 reading: the delimiters the ISA declares, whatever they are; several interchanges per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.agents.x12 import MalformedInterchange, parse_file, read_delimiters

BASE = (Path(__file__).parent / "fixtures" / "850_two_orders.x12").read_text()


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("newline as segment terminator", BASE.replace("~\n", "\n")),
        ("CR LF after each terminator", BASE.replace("~\n", "~\r\n")),
        ("one line", BASE.replace("~\n", "~")),
        ("pipe element separator", BASE.replace("*", "|")),
        ("caret terminator, colon sub-element", BASE.replace("~", "^").replace(">^", ":^")),
    ],
)
def test_declared_delimiters_are_honoured(tmp_path: Path, label: str, text: str) -> None:
    path = tmp_path / "in.x12"
    path.write_text(text, encoding="latin-1")
    (ic,) = parse_file(path)
    assert ic.control_number == "000000101" and ic.sender_id == "ACMERETAIL", label
    assert [(t.code, t.control_number) for t in ic.transactions] == [("850", "0001"), ("850", "0002")]
    assert ic.problems == []


def test_several_interchanges_in_one_file(tmp_path: Path) -> None:
    second = BASE.replace("000000101", "000000102").replace("*101*", "*102*").replace("GE*2*101", "GE*2*102")
    path = tmp_path / "two.x12"
    path.write_text(BASE + second)
    assert [(ic.control_number, len(ic.transactions), ic.problems) for ic in parse_file(path)] == [
        ("000000101", 2, []),
        ("000000102", 2, []),
    ]


def test_data_after_the_last_interchange_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tail.x12"
    path.write_text(BASE + "GARBAGE WITHOUT TERMINATOR")
    with pytest.raises(MalformedInterchange, match="unexpected data after segment 19"):
        parse_file(path)


@pytest.mark.parametrize(
    ("isa", "message"),
    [
        (BASE[:106].replace("ACMERETAIL     ", "ACMERETAIL", 1), "truncated: the ISA segment needs 106"),
        (BASE[:106].replace("*00*          *00", "*00*         *00", 1) + " ", "ISA is not fixed-width"),
        (BASE[:103] + "*~~", "invalid segment terminator '~' after ISA16"),  # same as ISA16
        (BASE[:104] + "AB", "invalid sub-element separator 'A'"),
        (BASE[:105] + "*", "invalid segment terminator '*'"),
    ],
)
def test_isa_problems_are_named(isa: str, message: str) -> None:
    with pytest.raises(MalformedInterchange, match=message):
        read_delimiters(isa)
