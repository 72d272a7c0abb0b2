"""The YAML helper behind the rules, policy, config and mapping files: every error names its line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storage import yamlfile

DOC = """\
name: north
routes:
  - receiver: ops
    for: 5m
  - receiver: ops
    wait: soon
"""


class _Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    receiver: str
    for_: str = Field(default="0s", alias="for")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    routes: list[_Route]

    @model_validator(mode="after")
    def _two_receivers(self) -> _Doc:
        if len({r.receiver for r in self.routes}) < 2:
            raise ValueError("routes need two receivers")
        return self


def _problems(text: str, **kwargs: Any) -> list[yamlfile.Problem]:
    data, node = yamlfile.parse(text, "doc.yaml")
    with pytest.raises(ValidationError) as caught:
        _Doc.model_validate(data)
    return yamlfile.problems(caught.value, node, **kwargs)


def test_a_validation_error_carries_the_line_of_the_key_it_is_about() -> None:
    [problem] = _problems(DOC)
    assert problem == yamlfile.Problem(("routes", 1, "wait"), 6, "unknown field")


def test_a_key_deeper_than_the_document_points_at_its_deepest_existing_part() -> None:
    assert yamlfile.line_of(yamlfile.parse(DOC, "doc.yaml")[1], ["routes", 0, "for_"]) == 4  # alias
    assert yamlfile.line_of(yamlfile.parse(DOC, "doc.yaml")[1], ["routes", 7, "receiver"]) == 2
    assert yamlfile.line_of(yamlfile.parse("", "empty.yaml")[1], ["name"]) is None


def test_an_error_about_the_whole_document_is_placed_by_the_caller() -> None:
    text = DOC.replace("    wait: soon\n", "")
    assert _problems(text) == [yamlfile.Problem((), 1, "routes need two receivers")]
    assert _problems(text, locate=lambda message: ("routes",)) == [
        yamlfile.Problem(("routes",), 2, "routes need two receivers")
    ]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("name: [north\n", 2, "expected ',' or ']', but got '<stream end>'"),
        ("name: north\n  routes: []\n", 2, "mapping values are not allowed here"),
        ("a: 1\n---\nb: 2\n", 2, "but found another document"),
        ('name: "unterminated\n', 2, "found unexpected end of stream"),
    ],
)
def test_invalid_yaml_names_the_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(yamlfile.YamlSyntaxError) as caught:
        yamlfile.parse(text, "doc.yaml")
    assert (caught.value.line, caught.value.problem) == (line, problem)
    assert str(caught.value) == f"doc.yaml line {line}: not valid YAML: {problem}"


def test_a_byte_order_mark_and_empty_documents_are_fine(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfname: north\n")
    assert yamlfile.parse(yamlfile.read_text(bom, "test"), str(bom))[0] == {"name": "north"}
    assert yamlfile.parse("# nothing but a comment\n", "doc.yaml") == (None, None)


def test_unreadable_oversized_and_binary_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(
        yamlfile.YamlFileError, match=r"^rules file .*missing.yaml cannot be read: it does not exist$"
    ):
        yamlfile.read_text(tmp_path / "missing.yaml", "rules")
    with pytest.raises(yamlfile.YamlFileError, match=r"^policy file .* cannot be read: it is a directory$"):
        yamlfile.read_text(tmp_path, "policy")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 1001)
    with pytest.raises(yamlfile.YamlFileError, match=r"big.yaml is larger than 1000 bytes$"):
        yamlfile.read_text(big, "rules", max_bytes=1000)
    assert yamlfile.read_text(big, "rules") == "#" * 1001
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(yamlfile.YamlFileError, match=r"bin.yaml is not UTF-8 text$"):
        yamlfile.read_text(binary, "config")


# -- hostile files, through every loader a user points at a file -----------------------------------


def _loaders() -> list[tuple[str, Callable[[Path], object], type[Exception]]]:
    from ai.policy import AiPolicyError, load_ai_policy
    from alerts.rules import RulesError, load_rules
    from collector.agents.poller import PollerConfigError, load_mapping
    from kpis.policy import PolicyError, load_policy
    from tower.settings import SettingsError, load_settings

    return [
        ("config", load_settings, SettingsError),
        ("policy", load_policy, PolicyError),
        ("AI policy", load_ai_policy, AiPolicyError),
        ("rules", load_rules, RulesError),
        ("mapping", load_mapping, PollerConfigError),
    ]


LOADERS = [pytest.param(*loader, id=loader[0]) for loader in _loaders()]

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]\n"
    for before, name in zip("abcdefgh", "bcdefghi", strict=True)
)  # nine lines standing for 9**9 (387 million) values


@pytest.mark.parametrize(("what", "load", "error"), LOADERS)
def test_a_huge_file_is_refused_without_reading_it_whole(
    what: str, load: Callable[[Path], object], error: type[Exception], tmp_path: Path
) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as out:  # a sparse 8 GiB file: reading it whole would take 8 GiB of memory
        out.truncate(8 << 30)
    with pytest.raises(error, match=rf"{what} file {huge} is larger than \d+ bytes"):
        load(huge)
    with pytest.raises(error, match=rf"{what} file /dev/zero is larger than \d+ bytes"):
        load(Path("/dev/zero"))
    with pytest.raises(
        error, match=rf"{what} file {tmp_path} (cannot be read: it is a directory|does not exist)"
    ):
        load(tmp_path)


@pytest.mark.parametrize(("what", "load", "error"), LOADERS)
def test_aliases_that_expand_to_millions_of_values_are_refused(
    what: str, load: Callable[[Path], object], error: type[Exception], tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB, encoding="utf-8")
    with pytest.raises(error, match="expands to more than 200000 values through its aliases"):
        load(bomb)
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(error, match="nested too deeply"):
        load(deep)
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("a: &loop [1, *loop]\n", encoding="utf-8")
    with pytest.raises(error, match="through its aliases"):
        load(recursive)


def test_a_file_saved_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    from kpis.policy import load_policy

    plain, marked = tmp_path / "plain.yaml", tmp_path / "marked.yaml"
    text = "closing_stage: ship\n"
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_policy(marked) == load_policy(plain)
    assert load_policy(marked).closing_stage == "ship"


def test_a_few_aliases_still_work() -> None:
    data, _ = yamlfile.parse("base: &base {a: 1}\nother: *base\nlist: [*base, *base]\n", "ok.yaml")
    assert data == {"base": {"a": 1}, "other": {"a": 1}, "list": [{"a": 1}, {"a": 1}]}
