"""The audit log: who did what, when, from where, and whether it worked.

Every package records its security-relevant actions here (logins, users, roles, sessions, API
tokens, silences, acknowledgements, exception actions, rule and policy changes). The table
``audit_log`` is append-only: the tower only ever inserts into it. Recording never raises: an
action that succeeded is not turned into an error because its audit row could not be written
(the failure is logged instead).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from storage.client import Store
from storage.sql import SqlFiles
from storage.times import naive

log = logging.getLogger(__name__)
SQL = SqlFiles("storage.queries")
TABLE = "audit_log"
COLUMNS = ["At", "Actor", "Action", "Target", "Outcome", "Address", "Details", "EventId"]
MAX_FIELD = 1000
MAX_DETAILS = 8000
EPOCH = datetime(1970, 1, 1)
FAR_FUTURE = datetime(2299, 12, 31)


class AuditEvent(BaseModel):
    at: datetime
    actor: str = Field(description="User name, token:<name>, cli:<os user> or system.")
    action: str = Field(description="What was done, e.g. login, token.create, silence.expire.")
    target: str = Field(default="", description="What it was done to (user, token id, silence id, ...).")
    outcome: str = Field(default="ok", description="ok, failed or denied.")
    address: str = Field(default="", description="Client address for web requests.")
    details: dict[str, Any] = Field(default_factory=dict)
    event_id: str = ""


class AuditPage(BaseModel):
    events: list[AuditEvent]
    total: int
    page: int
    page_size: int


def _clip(text: str, limit: int = MAX_FIELD) -> str:
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record(
    store: Store,
    actor: str,
    action: str,
    target: str = "",
    *,
    outcome: str = "ok",
    address: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event; logs instead of raising when the store refuses it."""
    moment = naive(at or datetime.now(UTC))
    text = json.dumps(details or {}, default=str, sort_keys=True)
    if len(text) > MAX_DETAILS:
        text = json.dumps({"truncated": text[:MAX_DETAILS]})
    row = [
        moment,
        _clip(actor),
        _clip(action, 100),
        _clip(target),
        _clip(outcome, 20),
        _clip(address, 100),
        text,
        uuid.uuid4(),
    ]
    try:
        store.insert(TABLE, [row], COLUMNS)
    except Exception:  # the action happened; a lost audit row is logged loudly
        log.exception("audit event not stored: %s %s %s %s", actor, action, target, outcome)


def events(
    store: Store,
    *,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 100,
) -> AuditPage:
    """One page of events matching the filters, newest first (``total`` counts every page)."""
    rows = store.rows(
        SQL["audit_events"],
        {
            "actor": actor,
            "action": action.removesuffix(".*"),
            "outcome": outcome,
            "since": naive(since) if since else EPOCH,
            "until": naive(until) if until else FAR_FUTURE,
            "limit": page_size,
            "offset": (page - 1) * page_size,
        },
    )
    out = []
    for row in rows:
        try:
            details = json.loads(row["details"]) if row["details"] else {}
        except ValueError:
            details = {"raw": row["details"]}
        out.append(
            AuditEvent(
                at=row["at"].replace(tzinfo=UTC),
                actor=row["actor"],
                action=row["action"],
                target=row["target"],
                outcome=row["outcome"],
                address=row["address"],
                details=details if isinstance(details, dict) else {"value": details},
                event_id=row["event_id"],
            )
        )
    total = int(rows[0]["total"]) if rows else 0
    return AuditPage(events=out, total=total, page=page, page_size=page_size)
