"""``tower audit``: who did what — logins, users, sessions, tokens, silences, acknowledgements,
exception actions, rule changes — from the append-only ``audit_log`` table.

Reads the store, or the ``/api/audit`` of the ``tower serve`` holding the embedded store (an admin
token: ``--token`` / ``TOWER_API_TOKEN``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from alerts.rules import parse_duration
from storage import audit
from storage.audit import AuditEvent, AuditPage
from tower import runtime
from tower.commands.options import ConfigOption, TokenOption
from tower.commands.remote import Api, store_or_api

PAGE_SIZE = 100

app = typer.Typer()


def _since(text: str | None) -> datetime | None:
    """An ISO time, or a duration back from now (``24h``, ``7d``)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        runtime.fail(
            f"--since must be an ISO time (2026-01-05T10:00:00Z) or a duration (24h, 7d), got {text!r}"
        )


@app.command("audit")
def audit_command(
    actor: Annotated[
        str, typer.Option("--actor", help="Only this actor (user, token:<name>, cli:<user>).")
    ] = "",
    action: Annotated[
        str,
        typer.Option("--action", help="Only this action or its sub-actions (login, token, silence.create)."),
    ] = "",
    outcome: Annotated[str, typer.Option("--outcome", help="ok, failed or denied.")] = "",
    since: Annotated[
        str | None, typer.Option("--since", help="From this ISO time, or this long ago (24h, 7d).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Newest events shown.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    token: TokenOption = None,
) -> None:
    """The audit log, newest first: who did what, when, from where, and the outcome."""
    if action and not re.fullmatch(r"[a-z0-9_.*]{1,100}", action):
        runtime.fail(f"--action is letters, digits, '_' and '.', got {action!r}")
    if outcome not in ("", "ok", "failed", "denied"):
        runtime.fail(f"--outcome must be ok, failed or denied, got {outcome!r}")
    start = _since(since)
    settings = runtime.settings_or_exit(config)
    events: list[AuditEvent] = []
    total = 0
    with store_or_api(settings, "tower audit", token) as source:
        page = 1
        while len(events) < limit:
            if isinstance(source, Api):
                params = {"actor": actor, "action": action, "outcome": outcome, "page": page}
                if start is not None:
                    params["since"] = start.isoformat()
                try:
                    result = AuditPage.model_validate(source.call("GET", "/api/audit", params=params))
                except ValidationError as exc:
                    runtime.fail(f"the tower API sent an unexpected audit page: {exc.errors()[0]['msg']}")
            else:
                result = audit.events(
                    source,
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    since=start,
                    page=page,
                    page_size=PAGE_SIZE,
                )
            total = result.total
            events += result.events
            if len(result.events) < result.page_size or page * result.page_size >= total:
                break
            page += 1
    events = events[:limit]
    if as_json:
        typer.echo(
            json.dumps({"total": total, "events": [e.model_dump(mode="json") for e in events]}, indent=2)
        )
        return
    if not events:
        typer.echo("no audit events match")
        return
    for e in events:
        details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
        typer.echo(
            f"{e.at:%Y-%m-%d %H:%M:%S}Z {e.outcome:6} {e.actor} {e.action} {e.target}"
            + (f" from {e.address}" if e.address else "")
            + (f" {details}" if details else "")
        )
    if total > len(events):
        typer.echo(f"({len(events)} of {total} shown; narrow with --actor/--action/--since or raise --limit)")
