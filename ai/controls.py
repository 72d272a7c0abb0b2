"""The governance controls, as small pure functions: what a score means under the policy in force.

* anomaly flags: below the review threshold no flag; from it up to the flag threshold "needs
  review"; from the flag threshold flagged and routed;
* delay risk: at risk from the policy's threshold;
* exception causes: routed to the cause's team from the route threshold, else "needs review";
* allocation: a recommendation is shown only at or above the minimum confidence and for an order
  worth at most the maximum value — the tower recommends, it never changes the ERP's allocation.

Each returns the decision, a one-line reason and the thresholds in force (stored with the prediction).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ai.policy import AllocationPolicy, CausePolicy, DelayPolicy, ReviewThresholds


class Decision(StrEnum):
    NO_ACTION = "no_action"
    NEEDS_REVIEW = "needs_review"
    FLAGGED = "flagged"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    ROUTED = "routed"
    RECOMMENDED = "recommended"
    WITHHELD = "withheld"
    KEEP = "keep_current"


@dataclass(frozen=True)
class Ruling:
    decision: Decision
    reason: str
    thresholds: dict[str, float]


def anomaly(score: float, policy: ReviewThresholds) -> Ruling:
    thresholds = {"review": policy.review_threshold, "flag": policy.flag_threshold}
    if score >= policy.flag_threshold:
        return Ruling(
            Decision.FLAGGED,
            f"score {score:.2f} >= flag threshold {policy.flag_threshold:g}: routed to {policy.route_to}",
            thresholds,
        )
    if score >= policy.review_threshold:
        return Ruling(
            Decision.NEEDS_REVIEW,
            f"score {score:.2f} between review {policy.review_threshold:g} and flag {policy.flag_threshold:g}",
            thresholds,
        )
    return Ruling(
        Decision.NO_ACTION, f"score {score:.2f} < review threshold {policy.review_threshold:g}", thresholds
    )


def delay(score: float, policy: DelayPolicy) -> Ruling:
    thresholds = {"at_risk": policy.at_risk_threshold}
    if score >= policy.at_risk_threshold:
        return Ruling(Decision.AT_RISK, f"risk {score:.0%} >= {policy.at_risk_threshold:.0%}", thresholds)
    return Ruling(Decision.ON_TRACK, f"risk {score:.0%} < {policy.at_risk_threshold:.0%}", thresholds)


def cause(confidence: float, label: str, policy: CausePolicy) -> Ruling:
    thresholds = {"route": policy.route_threshold}
    team = policy.teams.get(label, label)
    if confidence >= policy.route_threshold:
        return Ruling(
            Decision.ROUTED,
            f"confidence {confidence:.0%} >= {policy.route_threshold:.0%}: routed to {team}",
            thresholds,
        )
    return Ruling(
        Decision.NEEDS_REVIEW,
        f"confidence {confidence:.0%} < {policy.route_threshold:.0%}: a person confirms the cause",
        thresholds,
    )


def allocation(
    confidence: float, order_value: float, recommended: str, current: str, policy: AllocationPolicy
) -> Ruling:
    thresholds = {"min_confidence": policy.min_confidence, "max_order_value": policy.max_order_value}
    if order_value > policy.max_order_value:
        return Ruling(
            Decision.WITHHELD,
            f"order value {order_value:,.2f} > limit {policy.max_order_value:,.2f}: left to planners",
            thresholds,
        )
    if confidence < policy.min_confidence:
        return Ruling(
            Decision.WITHHELD,
            f"confidence {confidence:.0%} < minimum {policy.min_confidence:.0%}",
            thresholds,
        )
    if current and recommended == current:
        return Ruling(Decision.KEEP, f"{current} is already the best choice ({confidence:.0%})", thresholds)
    return Ruling(
        Decision.RECOMMENDED,
        f"{recommended}: {confidence:.0%} likely on time in full (recommendation only; the ERP is not changed)",
        thresholds,
    )
