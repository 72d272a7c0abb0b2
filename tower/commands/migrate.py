"""``tower migrate``: create the database, apply pending schema migrations, and backfill the
order-keyed tables from spans stored before them (one day at a time, with a progress bar).

On a ClickHouse server or cluster this is the only process that runs DDL (one job per upgrade);
``tower migrate --check --wait 600`` is what an init container runs to start a process only once the
schema is current.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from storage.migrate import SchemaNotReady
from tower import runtime
from tower.commands.options import ConfigOption

app = typer.Typer()

CHECK_POLL_S = 2.0


@app.command()
def migrate(
    config: ConfigOption = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only check that the schema is current (exit 3 if not); run no DDL."),
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="With --check: wait up to this many seconds for `tower migrate`."),
    ] = 0.0,
) -> None:
    """Create the database and apply pending schema migrations (safe to run again)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower migrate", migrate_first=False) as store:
        if check:
            deadline = time.monotonic() + wait
            while True:
                try:
                    runtime.check_ready(store)
                except SchemaNotReady as exc:
                    if time.monotonic() >= deadline:
                        runtime.fail(str(exc), code=3)
                    time.sleep(CHECK_POLL_S)
                    continue
                except runtime.MigrationError as exc:
                    runtime.fail(str(exc))
                typer.echo(f"database {store.database} is up to date")
                return
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
