"""Public X12 samples from parser projects' test suites (tests/fixtures/x12, sources in sources.yaml)
given to the EDI agent in one scan, sent to the real collector: every one accepted and recorded as
its set and version, except the genuinely malformed ones, quarantined with their reasons."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.agents.edi import EdiAgent, ScanReport
from collector.agents.settings import EdiAgentSettings
from tracing import conventions as c

SAMPLES = Path(__file__).parents[2] / "fixtures" / "x12"

# file -> (ISA12 of each interchange, ST01 of each transaction set)
ACCEPTED: dict[str, tuple[list[str], list[str]]] = {
    "derived_850_crlf.x12": (["00401"], ["850"]),
    "derived_855_utf8_bom_crlf_no_final_terminator.x12": (["00401"], ["855"]),
    "derived_997_005010X230_utf8_bom.x12": (["00501"], ["997"]),
    "derived_999_utf16le_bom.x12": (["00501"], ["999"]),
    "imsweb_837_bad_first_line.x12": (["00501"], ["837"]),  # ISA02 one character short: not fixed-width
    "imsweb_837_different_separators.x12": (["00501"], ["837"]),
    "imsweb_999_accepted.x12": (["00501"], ["999"]),
    "imsweb_999_rejected.x12": (["00501"], ["999"]),
    "linuxforhealth_270_subscriber.x12": (["00501"], ["270"]),
    "linuxforhealth_835_managed_care.x12": (["00501"], ["835"]),
    "linuxforhealth_837_patient_is_subscriber.x12": (["00501"], ["837"]),
    "node-x12_850.x12": (["00400"], ["850"]),
    "node-x12_855.x12": (["00401"], ["855"]),
    "rex12_997_00403.x12": (["00403"], ["997"]),
    "staedi_210_80char_lines.x12": (["00401"], ["210"]),  # wrapped at 80 characters
    "staedi_214_ellipsis_terminator.x12": (["00400"], ["214"]),  # U+2026 as segment terminator
    "staedi_810_850_two_groups.x12": (["00401"], ["810", "810", "850"]),
    "staedi_855_two_sets.x12": (["00401"], ["855", "855"]),
    "staedi_997_empty.x12": (["00401"], ["997"]),
    "staedi_997_invalid_group_trailer.x12": (["00501"], ["997"]),
    "staedi_997_rejected_005010X230.x12": (["00501"], ["997"]),
    "staedi_997_three_interchanges.x12": (["00501"] * 3, ["997"] * 3),
    "staedi_999_partial.x12": (["00501"], ["999"]),
    "stupidedi_002001_830_pass_1.x12": (["00200"], ["830"]),
    "stupidedi_002001_856_fail_1.x12": (["00200"], ["856", "856"]),
    "stupidedi_003010_820_pass_1.x12": (["00300"], ["820"]),
    "stupidedi_003010_850_fail_1.x12": (["00200"], ["850"]),
    "stupidedi_003010_860_pass_1.x12": (["00200"], ["860"]),
    "stupidedi_003050_850_pass_1.x12": (["00300"], ["850"]),  # a line break inside ISA08
    "stupidedi_004010_204_pass_1.x12": (["00401"], ["204"]),
    "stupidedi_004010_315_pass_1.x12": (["00401"], ["315"]),
    "stupidedi_004010_810_ghx_sample.x12": (["00401"], ["810"]),
    "stupidedi_004010_810_pass_1.x12": (["00401"], ["810"]),
    "stupidedi_004010_830_pass_1.x12": (["00400"], ["830"]),
    "stupidedi_004010_850_pass_1.x12": (["00401"], ["850"]),
    "stupidedi_004010_855_pass_1.x12": (["00400"], ["855"]),
    "stupidedi_004010_856_pass_1.x12": (["00401"], ["856"]),
    "stupidedi_004010_856_pass_2.x12": (["00400"], ["856"]),
    "stupidedi_004010_943_pass_1.x12": (["00401"], ["943"]),
    "stupidedi_004010_944_pass_1.x12": (["00401"], ["944"]),
    "stupidedi_004010_997_pass_1.x12": (["00400"], ["997"]),  # newline terminator, last one missing
    "tastypackets_835_isa_iea_mismatch.x12": (["00501"], ["835"]),
    "tastypackets_835_two_interchanges_one_line_each.x12": (["00501", "00501"], ["835", "835"]),
}
QUARANTINED = {
    "imsweb_837_missing_last_isa.x12": "malformed X12: truncated: interchange 000000905 has no IEA",
    "imsweb_837_no_isa_line.x12": "malformed X12: does not begin with an ISA segment",
    "node-x12_271_truncated.x12": "malformed X12: truncated: functional group 123456 has no GE",
    # a line break inside ISA10 of a file whose segment terminator is the line break
    "stupidedi_004010_855_fail_2.x12": "malformed X12: the ISA segment is cut by a line break",
    # '.' as segment terminator in a file with decimal amounts (13.84): the delimiters collide
    "stupidedi_004010_855_pass_2.x12": "malformed X12: segment 8 does not start with a segment id",
}


def test_every_sample_has_its_source_and_licence() -> None:
    listed = yaml.safe_load((SAMPLES / "sources.yaml").read_text())["samples"]
    names = {entry["file"] for entry in listed}
    assert names == {p.name for p in SAMPLES.glob("*.x12")} == set(ACCEPTED) | set(QUARANTINED)
    assert len(names) >= 40
    for entry in listed:
        assert entry["licence"] in {"BSD-3-Clause", "MIT", "Apache-2.0"}, entry
        assert entry["source"].startswith("https://github.com/"), entry
        assert "commit" in entry or "derived_from" in entry, entry
    codes = {code for _, sets in ACCEPTED.values() for code in sets}
    assert {"850", "855", "856", "810", "997", "999", "204", "214", "270", "837"} <= codes


@pytest.fixture(scope="module")
def scanned(
    real_collector: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ScanReport, list[Any], Path]:
    work = tmp_path_factory.mktemp("samples")
    inbound = work / "in"
    # copied, not copied with their times: a file's time is its interchange's, and the checkout's age
    # must not decide whether the store still keeps it
    shutil.copytree(
        SAMPLES, inbound, ignore=shutil.ignore_patterns("*.yaml", "*.md"), copy_function=shutil.copyfile
    )
    settings = EdiAgentSettings(inbound_dirs=[inbound], settle_s=0, system_instance="public-samples")
    agent = EdiAgent(settings, real_collector.emitter("public-samples"), work / "state")
    report = agent.scan_once()
    agent.ledger.close()
    return report, real_collector.spans("public-samples"), work


def test_public_samples_are_accepted_except_the_genuinely_malformed(scanned: Any) -> None:
    report, _spans, work = scanned
    assert sorted(report.processed) == sorted(ACCEPTED)
    assert sorted(report.quarantined) == sorted(QUARANTINED)
    assert report.failed == []
    for name, reason in QUARANTINED.items():
        text = (work / "state" / "quarantine" / f"{name}.reason.txt").read_text()
        assert f"reason: {reason}" in text, (name, text)


def test_each_sample_is_recorded_as_its_sets_and_versions(scanned: Any) -> None:
    _report, spans, _work = scanned
    for name, (versions, sets) in ACCEPTED.items():
        mine = [s for s in spans if s.attributes.get("edi.file.name") == name]
        roots = [s for s in mine if s.name.startswith("EDI interchange")]
        assert [s.attributes["edi.interchange_version"] for s in roots] == versions, name
        txs = [
            s
            for s in mine
            if s.parent_span_id in {r.span_id for r in roots} and c.EDI_TRANSACTION_SET in s.attributes
        ]
        assert sorted(s.attributes[c.EDI_TRANSACTION_SET] for s in txs) == sorted(sets), name
        for tx in txs:
            code = tx.attributes[c.EDI_TRANSACTION_SET]
            if code not in ("850", "855", "856", "810", "997", "999"):
                assert c.STAGE not in tx.attributes, name  # recorded as its set, not guessed into a stage


def _set(spans: list[Any], file: str, code: str) -> list[Any]:
    return [
        s
        for s in spans
        if s.attributes.get("edi.file.name") == file
        and s.attributes.get(c.EDI_TRANSACTION_SET) == code
        and "rejection" not in s.name
    ]


@pytest.mark.parametrize(
    ("file", "code", "ack", "status", "span_status"),
    [
        ("stupidedi_004010_855_pass_1.x12", "855", "AT", "accepted", "Unset"),
        ("node-x12_855.x12", "855", "AD", "accepted", "Unset"),
        ("derived_850_crlf.x12", "850", None, None, "Unset"),
        ("imsweb_999_accepted.x12", "999", "A", "accepted", "Unset"),
        ("imsweb_999_rejected.x12", "999", "R", "rejected", "Error"),
        ("staedi_999_partial.x12", "999", "P", "partially_accepted", "Unset"),
        ("derived_997_005010X230_utf8_bom.x12", "997", "R", "rejected", "Error"),
        ("rex12_997_00403.x12", "997", "A", "accepted", "Unset"),
    ],
)
def test_acknowledgment_codes_map_to_statuses_and_consistent_span_status(
    scanned: Any, file: str, code: str, ack: str | None, status: str | None, span_status: str
) -> None:
    _report, spans, _work = scanned
    (span,) = _set(spans, file, code)
    assert span.attributes.get("edi.ack.code") == ack
    assert span.attributes.get(c.STATUS) == status
    assert span.status_code == span_status


def test_a_partial_999_opens_one_exception_per_rejected_set(scanned: Any) -> None:
    _report, spans, _work = scanned
    (ack,) = _set(spans, "staedi_999_partial.x12", "999")
    assert json.loads(ack.attributes["edi.ack.rejected_control_numbers"]) == ["0002", "0003"]
    assert ack.attributes["edi.ack.outcome"] == "partially_accepted"
    rejections = sorted((s for s in spans if s.parent_span_id == ack.span_id), key=lambda s: s.status_message)
    assert [s.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] for s in rejections] == ["0002", "0003"]
    assert all(
        s.status_code == "Error" and s.attributes[c.EXCEPTION_TYPE] == "edi_rejected" for s in rejections
    )
    assert (
        "rejected 837 transaction set 0002 of group 17456 (999 IK5=R: Rejected)"
        in rejections[0].status_message
    )


def test_envelope_errors_of_public_samples_are_reported_not_refused(scanned: Any) -> None:
    _report, spans, _work = scanned
    errors = {
        (s.attributes["edi.file.name"], s.status_message.split(": ", 1)[1])
        for s in spans
        if s.name == "EDI envelope error"
    }
    assert (
        "stupidedi_004010_810_ghx_sample.x12",
        "SE01 segment count is wrong: SE01 says 42 for ST02 108650001, the set has 41",
    ) in errors
    assert (
        "tastypackets_835_isa_iea_mismatch.x12",
        "ISA13/IEA02 control number mismatch: IEA02 006000600 does not match ISA13 106000600",
    ) in errors
    assert (
        "tastypackets_835_two_interchanges_one_line_each.x12",
        "duplicate ISA13 control number in the file",
    ) in errors
