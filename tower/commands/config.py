"""``tower config show``: the effective settings, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tower import runtime
from tower.commands.options import ConfigOption
from tower.settings import dump_yaml, masked

app = typer.Typer(name="config", help="Inspect settings.", no_args_is_help=True)


@app.command("show")
def show(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    settings = runtime.settings_or_exit(config)
    data = masked(settings)
    typer.echo(json.dumps(data, indent=2) if as_json else dump_yaml(data), nl=not as_json)
