"""Options that many commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (also TOWER_CONFIG).", envvar="TOWER_CONFIG"),
]

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", help="API token, used when a tower serve holds the store.", envvar="TOWER_API_TOKEN"
    ),
]
