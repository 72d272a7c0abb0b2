"""Each control of the AI policy decides as written: thresholds below / between / above, execution
limits for allocation (and the boundaries themselves)."""

from __future__ import annotations

import pytest

from ai import controls
from ai.controls import Decision
from ai.policy import AllocationPolicy, CausePolicy, DelayPolicy, DuplicatesPolicy, SpikesPolicy


@pytest.mark.parametrize(
    ("score", "decision"),
    [
        (0.0, Decision.NO_ACTION),
        (0.49, Decision.NO_ACTION),
        (0.5, Decision.NEEDS_REVIEW),  # at the review threshold: a person looks
        (0.7, Decision.NEEDS_REVIEW),
        (0.85, Decision.FLAGGED),  # at the flag threshold: flagged and routed
        (0.99, Decision.FLAGGED),
    ],
)
def test_anomaly_thresholds_below_between_and_above(score: float, decision: Decision) -> None:
    policy = DuplicatesPolicy(review_threshold=0.5, flag_threshold=0.85, route_to="order-desk")
    ruling = controls.anomaly(score, policy)
    assert ruling.decision is decision
    assert ruling.thresholds == {"review": 0.5, "flag": 0.85}
    if decision is Decision.FLAGGED:
        assert "routed to order-desk" in ruling.reason


def test_thresholds_come_from_the_policy_in_force() -> None:
    strict = SpikesPolicy(review_threshold=0.9, flag_threshold=0.95)
    assert controls.anomaly(0.8, strict).decision is Decision.NO_ACTION
    lax = SpikesPolicy(review_threshold=0.1, flag_threshold=0.2)
    assert controls.anomaly(0.8, lax).decision is Decision.FLAGGED


def test_delay_and_cause_thresholds() -> None:
    delay = DelayPolicy(at_risk_threshold=0.6)
    assert controls.delay(0.59, delay).decision is Decision.ON_TRACK
    assert controls.delay(0.6, delay).decision is Decision.AT_RISK
    cause = CausePolicy(route_threshold=0.7, teams={"credit": "credit-desk"})
    routed = controls.cause(0.7, "credit", cause)
    assert routed.decision is Decision.ROUTED and "credit-desk" in routed.reason
    assert controls.cause(0.69, "credit", cause).decision is Decision.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("confidence", "value", "decision"),
    [
        (0.9, 1000.0, Decision.RECOMMENDED),
        (0.7, 25_000.0, Decision.RECOMMENDED),  # exactly at both limits: still shown
        (0.69, 1000.0, Decision.WITHHELD),  # below the minimum confidence
        (0.99, 25_000.01, Decision.WITHHELD),  # above the order-value limit, however confident
        (0.2, 90_000.0, Decision.WITHHELD),
    ],
)
def test_allocation_execution_limits(confidence: float, value: float, decision: Decision) -> None:
    policy = AllocationPolicy(min_confidence=0.7, max_order_value=25_000)
    ruling = controls.allocation(confidence, value, "WH-ATL", "WH-NJ", policy)
    assert ruling.decision is decision
    assert ruling.thresholds == {"min_confidence": 0.7, "max_order_value": 25_000}
    if decision is Decision.RECOMMENDED:
        assert "the ERP is not changed" in ruling.reason


def test_allocation_keeps_the_current_warehouse_when_it_is_the_best() -> None:
    ruling = controls.allocation(0.9, 100.0, "WH-ATL", "WH-ATL", AllocationPolicy())
    assert ruling.decision is Decision.KEEP
