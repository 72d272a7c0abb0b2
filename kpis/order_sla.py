"""One order's SLAs, judged for its timeline (the web API and page, ``tower trace``).

The SLA jobs judge every SLA of the policy (business calendars included) into ``sla_results``;
breached and at-risk results come from there. Every other wall-clock SLA whose start the order
reached is judged here from the policy and the timeline itself, so an order is said to be late as
soon as its due time passes, not only after the next job run. ``tracing`` does not know the SLA
policy: the callers compose the result into the timeline (:func:`tracing.timeline.with_sla`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kpis.policy import Policy, Sla
from kpis.reports import SlaBreach, sla_breaches
from storage import Store
from tracing import conventions as c
from tracing.timeline import SlaStatus, Timeline

# order attributes that SLA overrides match on (kpis.policy.Match fields)
SEGMENT_ATTRIBUTES = {
    "channel": c.CHANNEL,
    "priority": c.ORDER_PRIORITY,
    "customer_tier": c.CUSTOMER_TIER,
    "warehouse": c.WAREHOUSE_ID,
    "region": c.REGION,
}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def segment_of(timeline: Timeline) -> dict[str, str]:
    """The order's segment values (first seen on its spans), as SLA overrides match them."""
    found: dict[str, str] = {}
    for field, attribute in SEGMENT_ATTRIBUTES.items():
        found[field] = next(
            (s.attributes[attribute] for s in timeline.spans if s.attributes.get(attribute)), ""
        )
    return found


def wall_clock_due(sla: Sla, timeline: Timeline, segment: dict[str, str]) -> tuple[datetime, float] | None:
    """Start edge + target (overrides applied) for a wall-clock SLA whose start stage the order
    reached, with the target in seconds; None for business-time SLAs (the jobs judge those)."""
    if sla.clock != "wall":
        return None
    hops = [h for h in timeline.hops if h.stage == sla.start.stage]
    if not hops:
        return None
    start = min(h.start for h in hops) if sla.start.at == "start" else max(h.end for h in hops)
    target = sla.target
    for override in sla.overrides:
        if all(segment.get(k) == v for k, v in override.when.fields().items()):
            target = override.target
            break
    return _utc(start) + timedelta(seconds=target), target


def judge(policy: Policy, timeline: Timeline, breaches: list[SlaBreach], now: datetime) -> list[SlaStatus]:
    """The order's SLAs, due time first: the jobs' breached/at-risk results, then every other
    wall-clock SLA it started (met / late when its end edge was reached, else breached past due, at
    risk within the SLA's warning window, or open)."""
    now = _utc(now)
    judged = {
        b.sla: SlaStatus(sla=b.sla, state=b.status if b.open else "late", due=_utc(b.due_at), source="jobs")
        for b in breaches
    }
    statuses = list(judged.values())
    segment = segment_of(timeline)
    for sla in policy.slas:
        if sla.name in judged:
            continue
        due_target = wall_clock_due(sla, timeline, segment)
        if due_target is None:
            continue
        due, target = due_target
        at_end = [h for h in timeline.hops if h.stage == sla.end.stage]
        if at_end:
            reached = max(h.end for h in at_end) if sla.end.at == "end" else min(h.start for h in at_end)
            state = "met" if _utc(reached) <= due else "late"
        elif timeline.state.status == "complete":
            continue  # closed without the end edge: not judged (the jobs skip it too)
        elif now >= due:
            state = "breached"
        else:
            warn = sla.warn_before if sla.warn_before is not None else target * 0.25
            state = "at_risk" if (due - now).total_seconds() <= warn else "open"
        statuses.append(SlaStatus(sla=sla.name, state=state, due=due, source="policy"))  # type: ignore[arg-type]
    return sorted(statuses, key=lambda s: (s.due or now, s.sla))


def order_sla(
    store: Store, policy: Policy, timeline: Timeline, now: datetime | None = None
) -> list[SlaStatus]:
    """:func:`judge` with the order's breached and at-risk results read from the SLA jobs' table."""
    moment = _utc(now or datetime.now(UTC))
    breaches = sla_breaches(store, policy, order_id=timeline.order_id, now=moment, limit=50)
    return judge(policy, timeline, breaches, moment)
