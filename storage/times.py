"""Datetimes as ClickHouse takes them."""

from __future__ import annotations

from datetime import UTC, datetime


def naive(moment: datetime) -> datetime:
    """Naive UTC, as ClickHouse compares and binds ``DateTime64`` values (a naive value is UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
