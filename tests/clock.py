"""The tests' clock: one fixed "now" per week, so no test depends on the wall clock or the calendar.

Simulated history is anchored to ``ANCHOR`` instead of ``datetime.now()``: the simulator's people work
Monday to Friday in business hours, so data ending "now" looks different on a Sunday night than on a
Wednesday afternoon, and a fixed date is dropped by the store's retention (30 days) once it is old.
``ANCHOR`` is the latest Wednesday 18:00 UTC at least a day before the wall clock: the same point of
the working week on every run, between one and eight days old, so the store's retention always keeps
it. Code that judges data against "now" gets ``ANCHOR`` (or a time derived from it) passed in.

To reproduce a run from another week, set ``TOWER_TEST_NOW`` to that run's anchor (ISO 8601, UTC);
the anchor in force is printed in pytest's header. For an anchor older than the store's retention
(30 days) also set ``TOWER_TEST_KEEP_DATA=1`` (the test store then keeps every row); tests that run
``tower`` in a subprocess on a data directory of its own still apply the retention.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

__all__ = ["ANCHOR", "ANCHOR_NS", "anchor_for"]

WEEKDAY = 2  # Wednesday
HOUR = 18


def anchor_for(wall_clock: datetime) -> datetime:
    """The latest Wednesday 18:00 UTC that lies at least one day before ``wall_clock``."""
    latest = (wall_clock.astimezone(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    candidate = latest.replace(hour=HOUR) - timedelta(days=(latest.weekday() - WEEKDAY) % 7)
    if candidate > latest:
        candidate -= timedelta(days=7)
    return candidate


def _anchor() -> datetime:
    override = os.environ.get("TOWER_TEST_NOW")
    if override:
        parsed = datetime.fromisoformat(override)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return anchor_for(datetime.now(UTC))


ANCHOR: datetime = _anchor()
ANCHOR_NS: int = int(ANCHOR.timestamp()) * 10**9
