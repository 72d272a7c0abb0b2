"""Business-time SLAs across a weekend and a holiday, and at-risk / overdue open orders."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from clock import ANCHOR
from kpi_spans import hop, write

from kpis import reports
from kpis.jobs import KpiEngine
from kpis.policy import Policy, parse_policy
from storage import Store

CHICAGO = ZoneInfo("America/Chicago")


def _friday_before_the_anchor() -> datetime:
    """The Friday before the anchor's Wednesday (midnight in Chicago): its Tuesday lies before the anchor,
    its spans inside retention. Times are built in Chicago time, so daylight saving does not move them."""
    day = ANCHOR.astimezone(CHICAGO).date()
    while day.weekday() != 4:
        day -= timedelta(days=1)
    return datetime.combine(day, time(0), CHICAGO)


FRIDAY = _friday_before_the_anchor()
MONDAY = FRIDAY + timedelta(days=3)


def _local(base: datetime, days: int, hh: int, mm: int = 0) -> datetime:
    return datetime.combine((base + timedelta(days=days)).date(), time(hh, mm), CHICAGO).astimezone(UTC)


@pytest.fixture
def policy() -> Policy:
    return parse_policy(
        f"""
calendars:
  office:
    timezone: America/Chicago
    working_hours: {{mon: "08:00-18:00", tue: "08:00-18:00", wed: "08:00-18:00", thu: "08:00-18:00", fri: "08:00-18:00"}}
    holidays: [{MONDAY.date().isoformat()}]
slas:
  - name: capture_to_ship
    start: capture.start
    end: ship.end
    target: 48h
  - name: credit_check
    start: capture.end
    end: credit.end
    target: 4h
    warn_before: 1h
    clock: business
    calendar: office
"""
    )


def _credit(order: str, captured: datetime, decided: datetime | None) -> list:  # type: ignore[type-arg]
    """Captured (capture hop ending at ``captured``), credit decision at ``decided`` (None: still waiting)."""
    spans = [hop(order, "capture", captured - timedelta(minutes=1), 60)]
    if decided is not None:
        spans.append(hop(order, "credit", decided - timedelta(minutes=5), 300))
    return spans


def test_business_time_skips_the_weekend_and_the_holiday(store: Store, policy: Policy) -> None:
    # captured Friday 16:00, credit decision Tuesday 10:00 / 10:30 (Monday is a holiday):
    # business time is Friday 16-18 + Tuesday 08-10 = 4 h (met) / 4.5 h (breached)
    spans = _credit("SO-MET", _local(FRIDAY, 0, 16), _local(FRIDAY, 4, 10))
    spans += _credit("SO-LATE", _local(FRIDAY, 0, 16), _local(FRIDAY, 4, 10, 30))
    write(store, spans)
    KpiEngine(store, policy).recompute()
    breaches = reports.sla_breaches(store, policy, sla="credit_check", now=ANCHOR)
    assert [(b.order_id, b.status, b.elapsed_s, b.business_time) for b in breaches] == [
        ("SO-LATE", "breached", 4.5 * 3600, True)
    ]
    # a page past the end is empty and still counts the matches; without the SLA filter both pages
    assert reports.sla_breach_page(store, policy, sla="credit_check", offset=1, now=ANCHOR) == ([], 1)
    first, total = reports.sla_breach_page(store, policy, limit=1, now=ANCHOR)
    # SO-LATE's credit check, and both orders past capture_to_ship (48 h of wall time, never shipped)
    assert len(first) == 1 and total == 3
    report = reports.kpi_report(
        store, policy, FRIDAY.date() - timedelta(days=1), FRIDAY.date() + timedelta(days=6)
    )
    credit = next(a for a in report.sla if a.sla == "credit_check")
    assert (credit.evaluated, credit.met) == (2, 1)


def test_open_order_is_at_risk_then_overdue_in_business_time(store: Store, policy: Policy) -> None:
    # captured Friday 17:00, no credit decision yet: 1 h on Friday, then due Tuesday 11:00
    # (nothing counts over the weekend or on Monday's holiday) - the missing next step
    write(store, _credit("SO-OPEN", _local(FRIDAY, 0, 17), None))
    KpiEngine(store, policy).recompute()
    due = _local(FRIDAY, 4, 11)

    def status(now: datetime) -> list[tuple[str, float | None]]:
        found = reports.sla_breaches(store, policy, sla="credit_check", now=now)
        assert all(b.due_at == due.replace(tzinfo=None) for b in found)
        return [(b.status, b.time_to_breach_s) for b in found]

    assert status(_local(FRIDAY, 3, 12)) == []  # the holiday: 23 h of wall time left
    assert status(_local(FRIDAY, 4, 10, 15)) == [("at_risk", 45 * 60)]
    assert status(_local(FRIDAY, 4, 11, 30)) == [("breached", -30 * 60)]
    # the open order's wall-clock SLA (48 h) is overdue too by then
    overdue = reports.sla_breaches(store, policy, sla="capture_to_ship", now=_local(FRIDAY, 4, 11, 30))
    assert [(b.status, b.open) for b in overdue] == [("breached", True)]
