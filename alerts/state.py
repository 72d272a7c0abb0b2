"""Persistence of alert state, state history, acknowledgements, silences and the notification log.

Mutable records are ReplacingMergeTree rows with a version (the write time in ns); reads use FINAL.
These plain functions are the alert API the dashboard and CLI call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.matchers import MatcherError, all_match, parse_matcher
from alerts.model import (
    Ack,
    Alert,
    AlertState,
    NotificationRecord,
    Silence,
    StateChange,
    naive,
    utc,
)
from storage import SqlFiles, Store
from storage.errors import TowerError

SQL = SqlFiles("alerts.queries")
MAX_TEXT = 2000
_STATE_COLUMNS = [
    "Fingerprint",
    "Rule",
    "Labels",
    "Annotations",
    "State",
    "Value",
    "Orders",
    "ActiveAt",
    "FiredAt",
    "LastActiveAt",
    "ResolvedAt",
    "EvaluatedAt",
    "Version",
]


class AlertNotFound(TowerError, LookupError):
    pass


class InvalidRequest(TowerError, ValueError):
    """Bad input to an alert API call; the message says which field."""


def _now(now: datetime | None) -> datetime:
    return utc(now) if now is not None else datetime.now(UTC)


def _version() -> int:
    return time.time_ns()


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(
        fingerprint=row["Fingerprint"],
        rule=row["Rule"],
        labels=dict(row["Labels"]),
        annotations=dict(row["Annotations"]),
        state=AlertState(row["State"]),
        value=row["Value"],
        orders=list(row["Orders"]),
        active_at=utc(row["ActiveAt"]),
        fired_at=utc(row["FiredAt"]),
        last_active_at=utc(row["LastActiveAt"]),
        resolved_at=utc(row["ResolvedAt"]),
        evaluated_at=utc(row["EvaluatedAt"]),
    )


# -- alert state ---------------------------------------------------------------------------------


def current_alerts(store: Store, now: datetime, resolved_within: timedelta) -> dict[str, Alert]:
    """Pending and firing alerts, and those resolved within ``resolved_within`` of ``now``."""
    rows = store.rows(SQL["state_current"], {"resolved_since": naive(now - resolved_within)})
    alerts = {row["Fingerprint"]: _alert(row) for row in rows}
    _attach_acks(store, alerts.values())
    return alerts


def save_alerts(store: Store, alerts: Sequence[Alert]) -> None:
    if not alerts:
        return
    version = _version()
    store.insert(
        "alert_state",
        [
            [
                a.fingerprint,
                a.rule,
                a.labels,
                a.annotations,
                a.state.value,
                float(a.value),
                a.orders,
                naive(a.active_at),
                naive(a.fired_at),
                naive(a.last_active_at),
                naive(a.resolved_at),
                naive(a.evaluated_at),
                version + i,
            ]
            for i, a in enumerate(alerts)
        ],
        _STATE_COLUMNS,
    )


def record_changes(store: Store, changes: Sequence[StateChange]) -> None:
    if not changes:
        return
    store.insert(
        "alert_state_history",
        [
            [
                naive(c.at),
                c.fingerprint,
                c.rule,
                c.labels,
                c.from_state.value,
                c.to_state.value,
                c.value,
                c.note,
            ]
            for c in changes
        ],
        ["At", "Fingerprint", "Rule", "Labels", "FromState", "ToState", "Value", "Note"],
    )


def list_alerts(
    store: Store,
    states: Iterable[AlertState | str] = (),
    rule: str = "",
    limit: int = 500,
    now: datetime | None = None,
) -> list[Alert]:
    """Alert instances for display (every state unless ``states`` narrows it), newest first.

    ``suppressed_by`` lists the silences active at ``now`` (default: now) that match each alert.
    """
    wanted = [AlertState(s).value for s in states]
    rows = store.rows(
        SQL["state_list"], {"states": wanted, "rule": rule, "limit": max(1, min(limit, 10_000))}
    )
    alerts = {row["Fingerprint"]: _alert(row) for row in rows}
    _attach_acks(store, alerts.values())
    _attach_silences(store, alerts.values(), _now(now))
    return list(alerts.values())


def get_alert(store: Store, fingerprint: str, now: datetime | None = None) -> Alert:
    rows = store.rows(SQL["state_one"], {"fingerprint": fingerprint})
    if not rows:
        raise AlertNotFound(f"no alert with fingerprint {fingerprint!r}")
    alert = _alert(rows[0])
    _attach_acks(store, [alert])
    _attach_silences(store, [alert], _now(now))
    return alert


def _attach_silences(store: Store, alerts: Iterable[Alert], now: datetime) -> None:
    active = [a for a in alerts if a.state in (AlertState.PENDING, AlertState.FIRING)]
    if not active:
        return
    silences = [(s.id, [parse_matcher(m) for m in s.matchers]) for s in list_silences(store, active_at=now)]
    for alert in active:
        alert.suppressed_by = [sid for sid, ms in silences if all_match(ms, alert.labels)]


def alert_history(store: Store, fingerprint: str = "", rule: str = "", limit: int = 200) -> list[StateChange]:
    rows = store.rows(
        SQL["history"], {"fingerprint": fingerprint, "rule": rule, "limit": max(1, min(limit, 10_000))}
    )
    return [
        StateChange(
            at=utc(r["At"]),
            fingerprint=r["Fingerprint"],
            rule=r["Rule"],
            labels=dict(r["Labels"]),
            from_state=AlertState(r["FromState"]),
            to_state=AlertState(r["ToState"]),
            value=r["Value"],
            note=r["Note"],
        )
        for r in rows
    ]


# -- acknowledgements ----------------------------------------------------------------------------


def _attach_acks(store: Store, alerts: Iterable[Alert]) -> None:
    by_fp = {a.fingerprint: a for a in alerts if a.fired_at is not None}
    if not by_fp:
        return
    for row in store.rows(SQL["acks"], {"fingerprints": list(by_fp)}):
        alert = by_fp[row["Fingerprint"]]
        if alert.fired_at == utc(row["FiredAt"]):  # an ack belongs to one firing episode
            alert.ack = Ack(
                fingerprint=row["Fingerprint"],
                fired_at=utc(row["FiredAt"]),
                acked_by=row["AckedBy"],
                comment=row["Comment"],
                acked_at=utc(row["AckedAt"]),
            )


def acknowledge(
    store: Store, fingerprint: str, by: str, comment: str = "", now: datetime | None = None
) -> Ack:
    """Acknowledge the current firing episode of an alert: repeats stop, PagerDuty is told."""
    by = by.strip()
    if not by or len(by) > 200:
        raise InvalidRequest("acknowledged by: give a user name of 1-200 characters")
    if len(comment) > MAX_TEXT:
        raise InvalidRequest(f"comment is longer than {MAX_TEXT} characters")
    alert = get_alert(store, fingerprint)
    if alert.state is not AlertState.FIRING or alert.fired_at is None:
        raise InvalidRequest(
            f"alert {fingerprint} is {alert.state.value}; only a firing alert can be acknowledged"
        )
    at = _now(now)
    store.insert(
        "alert_acks",
        [[fingerprint, naive(alert.fired_at), by, comment, naive(at), _version()]],
        ["Fingerprint", "FiredAt", "AckedBy", "Comment", "AckedAt", "Version"],
    )
    record_changes(
        store,
        [
            StateChange(
                at=at,
                fingerprint=fingerprint,
                rule=alert.rule,
                labels=alert.labels,
                from_state=alert.state,
                to_state=alert.state,
                value=alert.value,
                note=f"acknowledged by {by}" + (f": {comment}" if comment else ""),
            )
        ],
    )
    return Ack(fingerprint=fingerprint, fired_at=alert.fired_at, acked_by=by, comment=comment, acked_at=at)


# -- silences ------------------------------------------------------------------------------------


def _silence(row: dict[str, Any]) -> Silence:
    return Silence(
        id=row["Id"],
        matchers=list(row["Matchers"]),
        starts_at=utc(row["StartsAt"]),
        ends_at=utc(row["EndsAt"]),
        created_by=row["CreatedBy"],
        comment=row["Comment"],
        updated_at=utc(row["UpdatedAt"]),
    )


def create_silence(
    store: Store,
    matchers: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime | None = None,
) -> Silence:
    """Silence alerts whose labels match every matcher between ``starts_at`` and ``ends_at``."""
    if not matchers:
        raise InvalidRequest("a silence needs at least one matcher")
    if len(matchers) > 50:
        raise InvalidRequest("a silence takes at most 50 matchers")
    parsed = []
    for text in matchers:
        try:
            parsed.append(parse_matcher(text))
        except MatcherError as exc:
            raise InvalidRequest(str(exc)) from None
    if all(m.matches({}) for m in parsed):
        raise InvalidRequest("the matchers would match every alert (even one without labels); be specific")
    start, end = utc(starts_at), utc(ends_at)
    assert start is not None and end is not None
    if end <= start:
        raise InvalidRequest("a silence must end after it starts")
    if not created_by.strip() or len(created_by) > 200:
        raise InvalidRequest("created by: give a user name of 1-200 characters")
    if not comment.strip() or len(comment) > MAX_TEXT:
        raise InvalidRequest(f"comment: say why, in 1-{MAX_TEXT} characters")
    at = _now(now)
    silence = Silence(
        id=uuid.uuid4().hex,
        matchers=[str(m) for m in parsed],
        starts_at=start,
        ends_at=end,
        created_by=created_by.strip(),
        comment=comment,
        updated_at=at,
    )
    _write_silence(store, silence)
    return silence


def _write_silence(store: Store, s: Silence) -> None:
    store.insert(
        "alert_silences",
        [
            [
                s.id,
                s.matchers,
                naive(s.starts_at),
                naive(s.ends_at),
                s.created_by,
                s.comment,
                naive(s.updated_at),
                _version(),
            ]
        ],
        ["Id", "Matchers", "StartsAt", "EndsAt", "CreatedBy", "Comment", "UpdatedAt", "Version"],
    )


def expire_silence(store: Store, silence_id: str, now: datetime | None = None) -> Silence:
    rows = store.rows(SQL["silence_one"], {"id": silence_id})
    if not rows:
        raise AlertNotFound(f"no silence with id {silence_id!r}")
    silence = _silence(rows[0])
    at = _now(now)
    if silence.ends_at > at:
        silence.ends_at = max(at, silence.starts_at)
        silence.updated_at = at
        _write_silence(store, silence)
    return silence


def list_silences(store: Store, active_at: datetime | None = None, limit: int = 500) -> list[Silence]:
    rows = store.rows(
        SQL["silences"],
        {
            "only_active": 1 if active_at is not None else 0,
            "active_at": naive(active_at) or datetime(1970, 1, 1),
            "limit": max(1, min(limit, 10_000)),
        },
    )
    return [_silence(r) for r in rows]


# -- notification log ----------------------------------------------------------------------------


@dataclass
class NflogEntry:
    firing: set[str]
    resolved: set[str]
    acked: set[str]
    sent_at: datetime


def nflog_entries(store: Store, since: datetime) -> dict[tuple[str, str, str], NflogEntry]:
    rows = store.rows(SQL["nflog_entries"], {"since": naive(since)})
    return {
        (r["Receiver"], r["Integration"], r["GroupKey"]): NflogEntry(
            set(r["Firing"]),
            set(r["Resolved"]),
            set(r["Acked"]),
            utc(r["SentAt"]),
        )
        for r in rows
    }


def save_nflog_entries(store: Store, items: Sequence[tuple[str, str, str, NflogEntry]]) -> None:
    """Record what each receiver integration now knows about its groups (one insert)."""
    if not items:
        return
    version = _version()
    store.insert(
        "alert_nflog",
        [
            [
                receiver,
                integration,
                group_key,
                sorted(e.firing),
                sorted(e.resolved),
                sorted(e.acked),
                naive(e.sent_at),
                version + i,
            ]
            for i, (receiver, integration, group_key, e) in enumerate(items)
        ],
        ["Receiver", "Integration", "GroupKey", "Firing", "Resolved", "Acked", "SentAt", "Version"],
    )


def log_notifications(store: Store, records: Sequence[NotificationRecord]) -> None:
    """Append delivery outcomes to the notification log (one insert)."""
    if not records:
        return
    store.insert(
        "alert_notifications",
        [
            [
                naive(r.at),
                r.receiver,
                r.integration,
                r.group_key,
                r.status,
                r.firing,
                r.resolved,
                r.outcome,
                r.attempts,
                int(r.retryable),
                r.error[:MAX_TEXT],
                r.target,
            ]
            for r in records
        ],
        [
            "At",
            "Receiver",
            "Integration",
            "GroupKey",
            "Status",
            "Firing",
            "Resolved",
            "Outcome",
            "Attempts",
            "Retryable",
            "Error",
            "Target",
        ],
    )


def notification_log(store: Store, receiver: str = "", limit: int = 200) -> list[NotificationRecord]:
    rows = store.rows(SQL["notifications"], {"receiver": receiver, "limit": max(1, min(limit, 10_000))})
    return [
        NotificationRecord(
            at=utc(r["At"]),
            receiver=r["Receiver"],
            integration=r["Integration"],
            group_key=r["GroupKey"],
            status=r["Status"],
            firing=list(r["Firing"]),
            resolved=list(r["Resolved"]),
            outcome=r["Outcome"],
            attempts=r["Attempts"],
            retryable=bool(r["Retryable"]),
            error=r["Error"],
            target=r["Target"],
        )
        for r in rows
    ]
