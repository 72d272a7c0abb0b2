"""Imports point one way, as ARCHITECTURE.md draws them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> the tower packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "storage": set(),
    "tracing": {"storage"},
    "collector": {"tracing", "storage"},
    "kpis": {"tracing", "storage"},
    "alerts": {"kpis", "tracing", "storage"},
    "web": {"alerts", "kpis", "tracing", "storage"},
    "tower": {"web", "alerts", "kpis", "collector", "tracing", "storage"},
}
# modules of tracing/ that services import to emit spans: OpenTelemetry only
LIGHT_MODULES = {"tracing/conventions.py", "tracing/instrument.py"}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def violations(root: Path) -> list[str]:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for name, line in imported_packages(path):
                if name in ALLOWED and name != package and name not in allowed:
                    problems.append(f"{path.relative_to(root)}:{line} imports {name}")
    for relative in LIGHT_MODULES:
        path = root / relative
        if path.exists():
            for name, line in imported_packages(path):
                if (name in ALLOWED and name != "tracing") or name in {
                    "clickhouse_connect",
                    "chdb",
                    "fastapi",
                }:
                    problems.append(f"{relative}:{line} imports {name} (instrumentation must stay light)")
    return problems


def test_imports_point_one_way() -> None:
    assert violations(ROOT) == []


def test_the_check_catches_a_wrong_way_import(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "storage" / "bad.py").write_text("from tracing.conventions import ORDER_ID\n")
    (tmp_path / "kpis" / "worse.py").write_text("import collector.otlp\n")
    (tmp_path / "tracing" / "instrument.py").write_text("import clickhouse_connect\n")
    assert sorted(violations(tmp_path)) == [
        "kpis/worse.py:1 imports collector",
        "storage/bad.py:1 imports tracing",
        "tracing/instrument.py:1 imports clickhouse_connect (instrumentation must stay light)",
    ]
