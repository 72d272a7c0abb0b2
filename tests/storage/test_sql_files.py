"""SQL files and their shared fragments (``{{include:NAME}}``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Store
from storage.sql import SqlFiles


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, files: dict[str, str]) -> SqlFiles:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for file, text in files.items():
        (folder / f"{file}.sql").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return SqlFiles(name)


def test_a_fragment_goes_where_a_query_includes_it_without_its_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    sql = _package(
        tmp_path,
        monkeypatch,
        "sqlpkg_ok",
        {
            "doubled": "-- what the two queries share\n{x:UInt32} * 2 -- a comment at the end of a line",
            "query": "SELECT {{include:doubled}} AS doubled, {{include:plus}} AS plus",
            "plus": "{{include:doubled}} + 1",
        },
    )
    text = sql["query"]
    assert "what the two queries share" not in text and "{{" not in text
    assert store.rows(text, {"x": 21}) == [{"doubled": 42, "plus": 43}]


def test_a_missing_or_circular_fragment_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = _package(
        tmp_path,
        monkeypatch,
        "sqlpkg_bad",
        {"missing": "SELECT {{include:nowhere}}", "loop": "SELECT {{include:loop}}"},
    )
    with pytest.raises(KeyError, match=r"no SQL file nowhere\.sql in sqlpkg_bad"):
        sql["missing"]
    with pytest.raises(ValueError, match="include each other too deeply"):
        sql["loop"]


def test_the_order_timeline_and_the_sla_pages_share_the_breach_columns() -> None:
    """The one-order point read and the paged list judge a breach with the same SQL."""
    sql = SqlFiles("kpis.queries")
    columns = sql["sla_breach_columns"].split("\n", 2)[2].strip()  # without its two comment lines
    states = sql["sla_breach_states"].split("\n", 2)[2].strip()
    for query in ("sla_breaches", "order_sla_breaches"):
        assert columns in sql[query] and states in sql[query]
