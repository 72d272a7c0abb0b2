"""SQL lives in ``.sql`` files next to the package that owns it, loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources


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
def _read(package: str, name: str) -> str:
    path = resources.files(package).joinpath(f"{name}.sql")
    if not path.is_file():
        raise KeyError(f"no SQL file {name}.sql in {package}")
    return path.read_text(encoding="utf-8")
