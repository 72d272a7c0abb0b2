"""``tower spool quarantine list|show|replay``: spans the store refused, kept aside with their reason.

Works on the spool directory (``collector.spool_dir``, default ``<storage.data_dir>/spool``) without
opening the store, so it runs beside a ``tower serve`` that holds the embedded store: a replayed
entry is moved back into the spool, where the running collector inserts it within a second (or the
next one at start-up). Replay after fixing the cause, e.g. after raising the retention.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from collector.engine import segment_rows
from collector.quarantine import Entry, Quarantine
from tower import runtime
from tower.commands.options import ConfigOption

app = typer.Typer(name="spool", help="The collector's write-ahead spool.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Spans ClickHouse refused, with their reason: list, show, replay.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
SpoolOption = Annotated[
    Path | None,
    typer.Option("--spool-dir", help="Spool directory. Default: collector.spool_dir or <data_dir>/spool."),
]


def _quarantine(config: Path | None, spool_dir: Path | None) -> Quarantine:
    if spool_dir is None:
        settings = runtime.settings_or_exit(config)
        spool_dir = settings.collector.spool_dir or settings.storage.data_dir / "spool"
    return Quarantine(spool_dir)


def _rows(quarantine: Quarantine, entry: Entry) -> list[dict[str, Any]]:
    rows = segment_rows(quarantine.payloads(entry.id))
    return [rows.row(index) for index in range(rows.count)]


@quarantine_app.command("list")
def list_entries(
    config: ConfigOption = None,
    spool_dir: SpoolOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Quarantined entries, oldest first: id, spans, when, reason."""
    entries = _quarantine(config, spool_dir).entries()
    if as_json:
        typer.echo(json.dumps([entry.as_dict() for entry in entries], indent=2))
        return
    if not entries:
        typer.echo("the quarantine is empty")
        return
    for entry in entries:
        typer.echo(
            f"{entry.id}  spans={entry.rows}  at={entry.quarantined_at}  span={','.join(entry.span_ids)}\n"
            f"    {entry.reason}"
        )
    typer.echo(
        f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {sum(e.rows for e in entries)} span(s)"
    )


@quarantine_app.command("show")
def show(
    entry_id: Annotated[str, typer.Argument(help="Entry id from `tower spool quarantine list`.")],
    config: ConfigOption = None,
    spool_dir: SpoolOption = None,
) -> None:
    """One entry as JSON: why it was refused and its rows as they would be inserted."""
    quarantine = _quarantine(config, spool_dir)
    try:
        entry = quarantine.get(entry_id)
        rows = _rows(quarantine, entry)
    except (KeyError, FileNotFoundError):
        runtime.fail(f"no quarantine entry {entry_id!r} in {quarantine.directory}", code=1)
    typer.echo(json.dumps({**entry.as_dict(), "rows_data": rows}, indent=2, default=str))


@quarantine_app.command("replay")
def replay(
    entry_ids: Annotated[list[str] | None, typer.Argument(help="Entry ids (see list).")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every entry.")] = False,
    config: ConfigOption = None,
    spool_dir: SpoolOption = None,
) -> None:
    """Move entries back into the spool: the collector inserts them again (and quarantines what is
    still refused)."""
    quarantine = _quarantine(config, spool_dir)
    ids = [entry.id for entry in quarantine.entries()] if replay_all else list(entry_ids or [])
    if not ids:
        runtime.fail("name entry ids to replay, or --all")
    missing = []
    for entry_id in ids:
        try:
            target = quarantine.replay(entry_id)
        except KeyError:
            missing.append(entry_id)
            continue
        typer.echo(f"replayed {entry_id} -> {target}")
    if missing:
        runtime.fail(f"no quarantine entry {', '.join(map(repr, missing))} in {quarantine.directory}", code=1)
