"""YAML files with errors that name the line: the one helper behind every file the tower reads.

The rules file (:mod:`alerts.rules`), the KPI policy (:mod:`kpis.policy`), the config file
(:mod:`tower.settings`) and a poller's row mapping (:mod:`collector.agents.poller`) are read with
:func:`read_text` and :func:`parse`; their pydantic errors are turned into :class:`Problem` s with
the line of the offending key by :func:`problems`. The policy files and the rules file go through
:func:`read` and :func:`validate`, which word the message the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

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


# Every file the tower reads as YAML is a few kilobytes (the shipped policy is the largest); a file
# far beyond that is a mistake (a log or a dump passed as --config) or an attack, refused before it
# is read whole
MAX_BYTES = 4 << 20
# what a document may expand to through anchors and aliases (``&a`` / ``*a``): a few lines of
# aliases to aliases stand for billions of values, which validation would walk one by one
MAX_EXPANDED_NODES = 200_000


def read_text(path: Path, what: str, max_bytes: int | None = None) -> str:
    """The UTF-8 text of ``path``; :class:`YamlFileError` ("<what> file <path> ...") when it cannot be.

    At most ``max_bytes`` (default :data:`MAX_BYTES`) are read, whatever the file is (``/dev/zero``,
    a huge file); a leading UTF-8 byte order mark is dropped."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    try:
        with path.open("rb") as stream:
            raw = stream.read(limit + 1)
    except FileNotFoundError:
        raise YamlFileError(f"{what} file {path} cannot be read: it does not exist") from None
    except IsADirectoryError:
        raise YamlFileError(f"{what} file {path} cannot be read: it is a directory") from None
    except OSError as exc:
        raise YamlFileError(f"{what} file {path} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise YamlFileError(f"{what} file {path} is larger than {limit} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise YamlFileError(f"{what} file {path} is not UTF-8 text") from None


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (shared nodes counted each
    time they are used; computed once per node; stops at the limit)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_EXPANDED_NODES + 1  # a node inside itself (a recursive alias) is too big
    total = 1
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        total += _expanded_size(child, sizes)
        if total > MAX_EXPANDED_NODES:
            break
    sizes[id(node)] = total
    return total


def parse(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree (which knows the lines); :class:`YamlSyntaxError`,
    also for a document that expands to more than :data:`MAX_EXPANDED_NODES` values through aliases."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise YamlSyntaxError(
                source,
                None,
                f"the document expands to more than {MAX_EXPANDED_NODES} values through its aliases "
                "(*name); write the values out or use fewer aliases",
            )
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        # the YAML composer (and pydantic after it) recurse once per level of nesting
        raise YamlSyntaxError(source, None, "values are nested too deeply (hundreds of levels)") from None
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


M = TypeVar("M", bound=BaseModel)


def read(path: Path | str, what: str, error: type[Exception], max_bytes: int | None = None) -> str:
    """:func:`read_text`, its :class:`YamlFileError` raised as the caller's ``error``."""
    try:
        return read_text(Path(path), what, max_bytes)
    except YamlFileError as exc:
        raise error(str(exc)) from None


def dotted(loc: tuple[Any, ...]) -> str:
    """``slas.0.stages``: the field path as pydantic reports it."""
    return ".".join(str(part) for part in loc)


def validate(
    text: str,
    source: str,
    model: type[M],
    error: type[Exception],
    *,
    not_mapping: str,
    whole: str,
    field: Callable[[tuple[Any, ...]], str] = dotted,
    line_always: bool = False,
    locate: Callable[[dict[str, Any], str], tuple[Any, ...]] | None = None,
) -> M:
    """Parse ``text`` and validate it as ``model``; every problem raises one ``error``.

    The message is one part per problem, ``"<source> line <n>: <field>: <problem>"`` joined by
    ``"; "``: ``field`` words a location (``whole`` when it is the document itself); a problem
    without a line names line 1 when ``line_always``, else no line. An empty document is an empty
    mapping; a document that is not a mapping raises ``"<source> line 1: <not_mapping>"``
    (``{kind}`` in it: the type the document is). ``locate(data, message)`` places a problem
    reported for the whole document (see :func:`problems`).
    """
    try:
        data, node = parse(text, source)
    except YamlSyntaxError as exc:
        raise error(str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{source} line 1: " + not_mapping.format(kind=type(data).__name__))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = problems(exc, node, None if locate is None else lambda message: locate(data, message))
        parts = []
        for p in found:
            line = p.line or (1 if line_always else None)
            parts.append(f"{source}{f' line {line}' if line else ''}: {field(p.loc) or whole}: {p.message}")
        raise error("; ".join(parts)) from None
