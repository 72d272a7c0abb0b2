"""YAML files with errors that name the line: the one helper behind every file the tower reads.

The rules file (:mod:`alerts.rules`), the KPI policy (:mod:`kpis.policy`), the config file
(:mod:`tower.settings`) and a poller's row mapping (:mod:`collector.agents.poller`) are read with
:func:`read_text` and :func:`parse`; their pydantic errors are turned into :class:`Problem` s with
the line of the offending key by :func:`problems`. Each caller words the final message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from storage.errors import TowerError


class YamlFileError(TowerError, ValueError):
    """The file cannot be read or is not valid YAML; the message names the file (and line)."""


class YamlSyntaxError(YamlFileError):
    """Not valid YAML: ``line`` (1-based, when known) and ``problem`` say where and what."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(f"{source}{f' line {line}' if line else ''}: not valid YAML: {problem}")


def read_text(path: Path, what: str, max_bytes: int | None = None) -> str:
    """The UTF-8 text of ``path``; :class:`YamlFileError` ("<what> file <path> ...") when it cannot be."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise YamlFileError(f"{what} file {path} cannot be read: it does not exist") from None
    except OSError as exc:
        raise YamlFileError(f"{what} file {path} cannot be read: {exc.strerror or exc}") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise YamlFileError(f"{what} file {path} is larger than {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlFileError(f"{what} file {path} is not UTF-8 text") from None


def parse(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree (which knows the lines); :class:`YamlSyntaxError`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(source, mark.line + 1 if mark is not None else None, problem) from None
    finally:
        loader.dispose()
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The line of the key or item at ``loc`` (keys and list indexes, as pydantic reports them).

    When ``loc`` goes deeper than the document, the line of its deepest part that exists; a key
    ``for_`` also finds ``for`` (fields aliased because their YAML name is a Python keyword).
    None for an empty document.
    """
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if key.value == part or (isinstance(part, str) and key.value == part.rstrip("_")):
                    found = (key, value)
                    break
            if found is None:
                return best
            best = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            return best
    return best


@dataclass(frozen=True)
class Problem:
    """One validation error: where (``loc`` and its ``line``) and what (``message``)."""

    loc: tuple[Any, ...]
    line: int | None
    message: str


def problems(
    exc: ValidationError,
    node: yaml.Node | None,
    locate: Callable[[str], tuple[Any, ...]] | None = None,
) -> list[Problem]:
    """The errors of validating the document of ``node``, each with its line.

    ``locate(message)`` places an error pydantic reports for the whole document (a cross-field
    check) at the field the message is about. An unknown key's message is "unknown field".
    """
    found = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = error["msg"].removeprefix("Value error, ")
        if not loc and locate is not None:
            loc = locate(message)
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        found.append(Problem(loc, line_of(node, loc), message))
    return found
