"""``tower serve``: the collector, web and scheduler roles, in one process by default."""

from __future__ import annotations

from typing import Annotated

import typer

from tower import runtime
from tower.commands.options import ConfigOption
from tower.roles import ROLES

app = typer.Typer()


@app.command()
def serve(
    config: ConfigOption = None,
    roles: Annotated[
        str, typer.Option("--roles", help="Comma-separated roles: collector, web, scheduler.")
    ] = "collector,web,scheduler",
) -> None:
    """Run the tower: OTLP collector, dashboard and scheduled jobs, in one process by default."""
    from tower.serve import run

    chosen = [r.strip() for r in roles.split(",") if r.strip()]
    unknown = [r for r in chosen if r not in ROLES]
    if unknown:
        runtime.fail(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    settings = runtime.settings_or_exit(config)
    policy = runtime.policy_or_exit(settings)
    runtime.configure_logging(settings.log_level)
    with runtime.store_or_exit(settings, f"tower serve --roles {','.join(chosen)}") as store:
        run(settings, store, policy, chosen)
