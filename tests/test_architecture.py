"""Imports point one way and never in a circle, and every error has one root: the rules of
docs/architecture.md ("Dependency rules")."""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import sys
import types
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from storage.errors import TowerError

ROOT = Path(__file__).resolve().parents[1]

# package -> the tower packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "storage": set(),
    "tracing": {"storage"},
    "collector": {"tracing", "storage"},
    "kpis": {"tracing", "storage"},
    "ai": {"kpis", "tracing", "storage"},
    "alerts": {"ai", "kpis", "tracing", "storage"},
    "web": {"alerts", "ai", "kpis", "tracing", "storage"},
    "tower": {"web", "alerts", "ai", "kpis", "collector", "tracing", "storage"},
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


# -- no module import cycle, lazy imports included ---------------------------------------------------


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in ALLOWED:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line of the first such import}.

    Every import statement counts, also those inside functions (lazy imports) and under
    ``if TYPE_CHECKING:``. ``from pkg import name`` is an import of the module ``pkg.name`` when that
    module exists, else of ``pkg``; ``import a.b.c`` is an import of the longest existing prefix.
    """
    modules = project_modules(root)

    def existing(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [existing(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else existing(base)
                    for alias in node.names
                ]
            for target in targets:
                if target is not None and target != module:
                    edges.setdefault(target, node.lineno)
        graph[module] = edges
    return graph


def import_cycles(root: Path) -> list[str]:
    """One cycle per strongly connected group of modules, as ``file:line -> file:line -> file``."""
    graph = import_graph(root)
    files = {module: path.relative_to(root).as_posix() for module, path in project_modules(root).items()}
    cycles = []
    for group in _strongly_connected(graph):
        path = _shortest_cycle(graph, group, min(group))
        steps = [f"{files[a]}:{graph[a][b]}" for a, b in itertools.pairwise(path)]
        cycles.append(" -> ".join([*steps, files[path[-1]]]))
    return sorted(cycles)


def _shortest_cycle(graph: dict[str, dict[str, int]], group: set[str], start: str) -> list[str]:
    """The shortest import path from ``start`` back to itself through modules of ``group``."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for target in sorted(graph[module]):
            if target == start:
                path = [module]
                while (before := previous[path[-1]]) is not None:
                    path.append(before)
                return [*reversed(path), start]
            if target in group and target not in previous:
                previous[target] = module
                queue.append(target)
    raise AssertionError(f"{start} is not on a cycle")


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """Groups of more than one module that import each other, directly or not (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root_module in sorted(graph):
        if root_module in index:
            continue
        work = [(root_module, iter(sorted(graph[root_module])))]
        index[root_module] = low[root_module] = len(index)
        stack.append(root_module)
        on_stack.add(root_module)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == module:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def test_no_module_import_cycle() -> None:
    assert import_cycles(ROOT) == []


def test_the_check_catches_a_planted_cycle(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    # two modules importing each other, one of them lazily inside a function
    (tmp_path / "alerts" / "rules.py").write_text(
        "import re\n\n\ndef check():\n    from alerts.signals import x\n"
    )
    (tmp_path / "alerts" / "signals.py").write_text("from alerts.rules import check\n")
    # three modules in a ring through `from pkg import module`, `import a.b` and a relative import
    (tmp_path / "tower" / "commands").mkdir()
    (tmp_path / "tower" / "commands" / "__init__.py").write_text("")
    (tmp_path / "tower" / "serve.py").write_text("from tower import roles\n")
    (tmp_path / "tower" / "roles.py").write_text("import tower.commands.alerts\n")
    (tmp_path / "tower" / "commands" / "alerts.py").write_text("import json\n\nfrom ..serve import run\n")
    # not a cycle: a package importing its module, which imports a sibling
    (tmp_path / "kpis" / "__init__.py").write_text("from kpis.jobs import Engine\n")
    (tmp_path / "kpis" / "jobs.py").write_text("from kpis.policy import Policy\n")
    (tmp_path / "kpis" / "policy.py").write_text("Policy = dict\n")
    assert import_cycles(tmp_path) == [
        "alerts/rules.py:5 -> alerts/signals.py:1 -> alerts/rules.py",
        "tower/commands/alerts.py:3 -> tower/serve.py:1 -> tower/roles.py:1 -> tower/commands/alerts.py",
    ]


# -- one root exception ----------------------------------------------------------------------------


def exceptions_outside_the_root(modules: Iterable[types.ModuleType]) -> list[str]:
    """Exception classes defined in ``modules`` that do not derive from :class:`TowerError`.

    Warning categories are not errors; the light instrumentation modules import OpenTelemetry only,
    so their errors cannot derive from a class of ``storage``.
    """
    light = {relative.removesuffix(".py").replace("/", ".") for relative in LIGHT_MODULES}
    found = []
    for module in modules:
        if module.__name__ in light:
            continue
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == module.__name__
                and issubclass(value, BaseException)
                and not issubclass(value, Warning | TowerError)
            ):
                found.append(f"{module.__name__}.{name}")
    return sorted(found)


def test_every_exception_class_derives_from_tower_error() -> None:
    names = [name for name in project_modules(ROOT) if not name.endswith("__main__")]
    assert exceptions_outside_the_root(importlib.import_module(name) for name in names) == []
    assert sys.modules["tracing.instrument"].ConventionError.__mro__[1] is ValueError  # stays light


def test_the_check_catches_an_exception_outside_the_root() -> None:
    planted = types.ModuleType("kpis.planted")
    exec(
        "from storage.errors import TowerError\n"
        "class Stray(ValueError): pass\n"
        "class Rooted(TowerError, LookupError): pass\n"
        "class Notice(UserWarning): pass\n"
        "Imported = KeyError\n",
        planted.__dict__,
    )
    assert exceptions_outside_the_root([planted]) == ["kpis.planted.Stray"]
