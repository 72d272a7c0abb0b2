"""Alert data as plain pydantic models: what the evaluator, notifiers, CLI and web share."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import overload

from pydantic import BaseModel, Field


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: dict[str, str]) -> str:
    """Stable 16-hex-digit identity of an alert from its labels (order does not matter)."""
    digest = hashlib.sha256()
    for key in sorted(labels):
        digest.update(key.encode())
        digest.update(b"\xff")
        digest.update(labels[key].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]


@overload
def utc(ts: datetime) -> datetime: ...
@overload
def utc(ts: None) -> None: ...
def utc(ts: datetime | None) -> datetime | None:
    """Aware UTC from a naive-UTC (ClickHouse) or aware datetime."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def naive(ts: datetime | None) -> datetime | None:
    """Naive UTC for ClickHouse parameters and inserts."""
    if ts is None:
        return None
    return ts if ts.tzinfo is None else ts.astimezone(UTC).replace(tzinfo=None)


class Ack(BaseModel):
    fingerprint: str
    fired_at: datetime
    acked_by: str
    comment: str = ""
    acked_at: datetime


class Alert(BaseModel):
    fingerprint: str
    rule: str
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    state: AlertState
    value: float = 0.0
    orders: list[str] = Field(default_factory=list)
    active_at: datetime
    fired_at: datetime | None = None
    last_active_at: datetime
    resolved_at: datetime | None = None
    evaluated_at: datetime
    ack: Ack | None = None
    suppressed_by: list[str] = Field(default_factory=list, description="silence ids, 'inhibited', 'muted'")

    @property
    def name(self) -> str:
        return self.labels.get("alertname", self.rule)


class StateChange(BaseModel):
    at: datetime
    fingerprint: str
    rule: str
    labels: dict[str, str]
    from_state: AlertState
    to_state: AlertState
    value: float
    note: str = ""


class Silence(BaseModel):
    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


class NotificationRecord(BaseModel):
    at: datetime
    receiver: str
    integration: str
    group_key: str
    status: str
    firing: list[str]
    resolved: list[str]
    outcome: str
    attempts: int
    retryable: bool
    error: str
    target: str
