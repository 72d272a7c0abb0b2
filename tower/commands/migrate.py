"""``tower migrate``: create the database and apply pending schema migrations."""

from __future__ import annotations

import typer

from tower import runtime
from tower.commands.options import ConfigOption

app = typer.Typer()


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Create the database and apply pending schema migrations (safe to run again)."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower migrate", migrate_first=False) as store:
        try:
            applied = runtime.migrate_store(store)
        except runtime.MigrationError as exc:
            runtime.fail(str(exc))
        if applied:
            typer.echo(f"applied {len(applied)} migration(s) to {store.database}: " + ", ".join(applied))
        else:
            typer.echo(f"database {store.database} is up to date")
