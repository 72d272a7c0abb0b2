"""SQL lives in ``.sql`` files next to the package that owns it, loaded once.

A file may say ``{{include:NAME}}``: the text of ``NAME.sql`` of the same package (its comment lines
dropped) goes there, so two queries that must agree share one fragment instead of two copies.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r"\{\{include:([a-z0-9_]+)\}\}")
_MAX_DEPTH = 8


class SqlFiles:
    """The ``.sql`` files of one package folder, e.g. ``SqlFiles("tracing.queries")``.

    ``files["lookup_key"]`` returns the text of ``lookup_key.sql``; files are read once.
    """

    def __init__(self, package: str) -> None:
        self.package = package

    def __getitem__(self, name: str) -> str:
        return _read(self.package, name)

    def names(self) -> list[str]:
        return sorted(
            entry.name.removesuffix(".sql")
            for entry in resources.files(self.package).iterdir()
            if entry.name.endswith(".sql")
        )


@cache
def _read(package: str, name: str, depth: int = 0) -> str:
    path = resources.files(package).joinpath(f"{name}.sql")
    if not path.is_file():
        raise KeyError(f"no SQL file {name}.sql in {package}")
    if depth > _MAX_DEPTH:
        raise ValueError(f"SQL files of {package} include each other too deeply (at {name}.sql)")

    def fragment(match: re.Match[str]) -> str:
        text = _read(package, match.group(1), depth + 1)
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        return "\n".join(lines).strip() + "\n"  # a trailing "-- comment" must not swallow what follows

    return _INCLUDE.sub(fragment, path.read_text(encoding="utf-8"))
