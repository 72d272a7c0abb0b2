"""The ``tower`` command: the root app that registers every command module of :mod:`tower.commands`."""

from __future__ import annotations

import typer

from tower.commands import (
    agent,
    ai,
    alerts,
    audit,
    bench,
    config,
    demo,
    export,
    kpis,
    migrate,
    serve,
    simulate,
    spool,
    trace,
    users,
)

app = typer.Typer(
    name="tower",
    help="Order Control Tower: trace every order hop across ERP, EDI, WMS and carriers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# In the order ``tower --help`` lists them. A module's app with a name is a command group
# (``tower alerts ...``); an app without one adds its commands at the top level (``tower serve``).
for commands in (
    migrate, serve, trace, simulate, demo, config, bench, users, audit, agent, alerts, kpis, export, ai,
    spool,
):  # fmt: skip
    app.add_typer(commands.app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
