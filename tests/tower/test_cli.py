"""The ``tower`` command loads only the command module it runs, and still has every command."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import typer
from support.cli import environment

from tower import cli


def _names(app: typer.Typer) -> list[str]:
    if app.info.name and isinstance(app.info.name, str):
        return [app.info.name]
    return [
        command.name or command.callback.__name__ for command in app.registered_commands if command.callback
    ]


@pytest.mark.parametrize("module", cli.COMMANDS)
def test_each_command_module_defines_the_command_of_its_name(module: str) -> None:
    # main() picks the module by the first word of the command line: a module defining another
    # command (or two) would leave that command "No such command" when named
    assert _names(importlib.import_module(f"tower.commands.{module}").app) == [module]


def _tower(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tower", *args], capture_output=True, text=True, env=environment(), timeout=120
    )


def test_a_named_command_runs_alone_and_help_lists_every_command() -> None:
    # one top-level command registered alone still reads its own options (not "tower serve" as an argument)
    serve = _tower("serve", "--help")
    assert serve.returncode == 0 and "--roles" in serve.stdout and "Usage: tower serve" in serve.stdout
    listing = _tower("--help")
    assert listing.returncode == 0
    for name in cli.COMMANDS:
        assert f" {name} " in listing.stdout
    unknown = _tower("nosuch")
    assert unknown.returncode == 2 and "No such command 'nosuch'" in unknown.stderr


def test_the_app_tests_import_has_every_command() -> None:
    assert sorted(
        name for group in cli.app.registered_groups for name in _names(group.typer_instance)
    ) == sorted(cli.COMMANDS)
