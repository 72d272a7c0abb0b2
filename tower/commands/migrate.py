"""``tower migrate``: create the database, apply pending schema migrations, and backfill the
order-keyed tables from spans stored before them (one day at a time, with a progress bar)."""

from __future__ import annotations

import typer

from tower import runtime
from tower.commands.options import ConfigOption

app = typer.Typer()


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Create the database and apply pending schema migrations (safe to run again)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower migrate", migrate_first=False) as store:
        columns = (
            TextColumn("backfill {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("order_spans", total=None)

            def progress(done: int, total: int, step: str) -> None:
                bar.update(task, completed=done, total=total, description=f"order_spans ({step})")

            try:
                applied = runtime.migrate_store(store, progress)
            except runtime.MigrationError as exc:
                runtime.fail(str(exc))
        backfilled = bar.tasks[0].completed
        if backfilled:
            typer.echo(f"backfilled the order-keyed tables from {int(backfilled)} day(s) of stored spans")
        if applied:
            typer.echo(f"applied {len(applied)} migration(s) to {store.database}: " + ", ".join(applied))
        else:
            typer.echo(f"database {store.database} is up to date")
