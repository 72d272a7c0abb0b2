"""The ``tower`` command: the root app that registers every command module of :mod:`tower.commands`.

Each module's import pulls in the part of the product it drives (the AI models, the alert
evaluator, the bench's simulator ...), about 1.5 s of imports for all of them. ``tower trace SO-1``
needs one: :func:`main` imports only the module of the command named on the command line, and every
module for ``tower --help`` or an unknown command (whose error lists them all). ``app`` -- what
tests and embedding code import -- has every command.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

# In the order ``tower --help`` lists them. Each module of tower.commands defines the command (a
# top-level command or a group) of its own name: ``tower alerts ...`` lives in tower.commands.alerts.
COMMANDS = (
    "migrate", "serve", "trace", "simulate", "demo", "config", "bench", "users", "audit", "agent",
    "alerts", "kpis", "export", "ai", "spool",
)  # fmt: skip


def build(commands: tuple[str, ...] = COMMANDS) -> typer.Typer:
    """The root app with ``commands`` registered. A module's app with a name is a command group
    (``tower alerts ...``); an app without one adds its commands at the top level (``tower serve``)."""
    root = typer.Typer(
        name="tower",
        help="Order Control Tower: trace every order hop across ERP, EDI, WMS and carriers.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    # a callback keeps the root a group of commands even with one registered (typer runs a lone
    # command as the program itself, which would read "tower serve" as an argument to serve)
    @root.callback()
    def _root() -> None:
        pass

    for name in commands:
        root.add_typer(importlib.import_module(f"tower.commands.{name}").app)
    return root


def command_named(argv: list[str]) -> str | None:
    """The command module ``argv`` (without the program name) runs, if its first word names one."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main() -> None:
    name = command_named(sys.argv[1:])
    build((name,) if name else COMMANDS)(prog_name="tower")


def __getattr__(attribute: str) -> Any:
    if attribute == "app":  # built on first use: importing tower.cli for main() imports no command
        globals()["app"] = full = build()
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


if __name__ == "__main__":
    main()
