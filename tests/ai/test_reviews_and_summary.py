"""Human override and its audit log; the plain-language summary of an order's exceptions (with the
optional hook off by default, used when configured, never required)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ai import summary as summaries
from ai.policy import load_ai_policy
from ai.predictions import Prediction, PredictionLog, ReviewError
from ai.service import AiService
from ai.settings import AiSettings
from kpis.policy import load_policy
from storage import Store
from tracing.timeline import (
    CriticalPath,
    CurrentState,
    ErrorRecord,
    ExceptionCase,
    ExceptionEvent,
    Gap,
    ManualTouch,
    Timeline,
)

NOW = datetime(2026, 3, 4, 18, tzinfo=UTC)


def cause_prediction(
    log: PredictionLog, order: str = "SO-9", label: str = "credit", score: float = 0.55
) -> Prediction:
    p = Prediction(
        "exception_cause",
        3,
        order,
        "credit_hold",
        NOW,
        score,
        label,
        {"message": "Order total exceeds available credit"},
        {"route": 0.6},
        "needs_review",
        "confidence 55% < 60%",
    )
    log.write([p])
    return p


def test_an_override_needs_a_reason_and_an_allowed_value_and_every_review_is_kept(store: Store) -> None:
    service = AiService(store, load_policy(None), load_ai_policy(None))
    p = cause_prediction(service.log)
    with pytest.raises(ReviewError, match="reason is required"):
        service.review(
            p.prediction_id, "override", actor="otto", role="ops", reason="   ", value="customer_data"
        )
    with pytest.raises(ReviewError, match="not one of"):
        service.review(p.prediction_id, "override", actor="otto", role="ops", reason="typo", value="<script>")
    with pytest.raises(ReviewError, match="needs the value"):
        service.review(p.prediction_id, "override", actor="otto", role="ops", reason="no value")
    with pytest.raises(ReviewError, match="no prediction"):
        service.review(
            "00000000-0000-0000-0000-000000000000", "confirm", actor="otto", role="ops", reason="x"
        )
    with pytest.raises(ReviewError, match="not a prediction id"):
        service.review("'; DROP TABLE ai_reviews; --", "confirm", actor="otto", role="ops", reason="x")
    service.review(
        p.prediction_id,
        "override",
        actor="otto",
        role="ops",
        reason="bill-to account is new",
        value="customer_data",
    )
    current = service.causes([("SO-9", "credit_hold")])[("SO-9", "credit_hold")]
    assert (current.label, current.decision, current.model_label, current.reviewed_by) == (
        "customer_data",
        "overridden",
        "credit",
        "otto",
    )
    service.review(
        p.prediction_id, "confirm", actor="ada", role="admin", reason="agreed with the model after all"
    )
    current = service.causes([("SO-9", "credit_hold")])[("SO-9", "credit_hold")]
    assert (current.label, current.decision) == ("credit", "confirmed")
    trail = service.reviews("SO-9")
    assert [(r.actor, r.action.value, r.value, r.predicted) for r in trail] == [
        ("ada", "confirm", "", "credit"),
        ("otto", "override", "customer_data", "credit"),
    ]
    assert store.scalar("SELECT count() FROM ai_predictions") == 1, "predictions are never rewritten"


def test_anomaly_flags_are_confirmed_or_dismissed_not_overridden(store: Store) -> None:
    service = AiService(store, load_policy(None), load_ai_policy(None))
    flag = Prediction(
        "duplicates",
        1,
        "SO-5",
        "",
        NOW,
        0.9,
        "SO-4",
        {"gap_h": "0.2"},
        {"review": 0.5, "flag": 0.85},
        "flagged",
        "score 0.90",
    )
    service.log.write([flag])
    with pytest.raises(ReviewError, match="confirmed or dismissed"):
        service.review(flag.prediction_id, "override", actor="otto", role="ops", reason="x", value="SO-3")
    service.review(
        flag.prediction_id, "dismiss", actor="otto", role="ops", reason="a standing order, not a duplicate"
    )
    assert service.flags() == [], "a dismissed flag leaves the queue"
    assert service.flags(decisions=("dismissed",))[0].review_reason == "a standing order, not a duplicate"


def timeline() -> Timeline:
    t0 = NOW - timedelta(days=1)
    opened = t0 + timedelta(hours=1)
    return Timeline(
        order_id="SO-9",
        keys={"order.customer_po": ["PO-9"]},
        channel="edi",
        customer="C-10085",
        start=t0,
        end=NOW,
        cycle_ns=int(24 * 3600e9),
        hops=[],
        gaps=[
            Gap(
                from_hop=0,
                to_hop=1,
                from_system="erp-east",
                to_system="wms",
                from_stage="allocation",
                to_stage="pick",
                start=t0,
                end=t0 + timedelta(hours=7),
                duration_ns=int(7 * 3600e9),
                held_by="erp-east",
                waiting_for="pick",
            )
        ],
        waiting_ns=int(9 * 3600e9),
        critical_path=CriticalPath(segments=[], total_ns=0, working_ns=0, waiting_ns=0),
        state=CurrentState(
            status="open",
            stage="ship",
            system="wms",
            since=NOW - timedelta(hours=5),
            age_ns=int(5 * 3600e9),
            idle_ns=0,
            as_of=NOW,
        ),
        errors=[
            ErrorRecord(
                time=opened,
                system="erp-east",
                stage="credit",
                name="credit check",
                message="Order total 48,210.00 exceeds available credit",
                error_type="",
                trace_id="t",
                span_id="s1",
            )
        ],
        exceptions=[
            ExceptionEvent(
                type="credit_hold",
                outcome="opened",
                time=opened,
                system="erp-east",
                stage="credit",
                source="span",
                name="credit check",
                trace_id="t",
                span_id="s1",
            )
        ],
        exception_cases=[
            ExceptionCase(
                type="credit_hold",
                opened=opened,
                resolved=opened + timedelta(hours=3, minutes=10),
                open=False,
                duration_ns=int(3 * 3600e9 + 600e9),
            )
        ],
        manual_touches=[
            ManualTouch(
                time=opened + timedelta(hours=3),
                system="erp-east",
                stage="credit",
                user="credit03@distributor.example",
                trace_id="t",
                span_id="s2",
            )
        ],
        systems=[],
        longest_system=None,
        trace_ids=["t"],
        spans=[],
    )


def test_the_summary_is_built_from_the_timelines_facts_and_is_deterministic() -> None:
    first, second = summaries.build(timeline()), summaries.build(timeline())
    assert first.text == second.text and first.source == "deterministic"
    assert first.headline == "Order SO-9 (edi, customer C-10085) is open, at ship on wms for 5h 0m."
    assert (
        "Credit hold: opened Tue 03 Mar 19:00 UTC at erp-east (credit); resolved after 3h 10m by credit03@distributor.example"
        in first.text
    )
    assert '"Order total 48,210.00 exceeds available credit"' in first.text
    assert "longest 7h 0m from erp-east (allocation) to wms (pick)" in first.text


def hook_upper(facts: dict[str, Any], text: str) -> str:
    return f"[{facts['order_id']}] " + text.upper()


def hook_fails(facts: dict[str, Any], text: str) -> str:
    raise TimeoutError("the language model did not answer")


def hook_odd(facts: dict[str, Any], text: str) -> object:
    return {"not": "text"}


def test_the_summary_hook_is_off_by_default_used_when_configured_and_never_required(store: Store) -> None:
    policy, kpi = load_ai_policy(None), load_policy(None)
    plain = AiService(store, kpi, policy).summary(timeline(), [])
    assert plain.source == "deterministic"
    hooked = AiService(store, kpi, policy, AiSettings(summary_hook=f"{__name__}:hook_upper")).summary(
        timeline(), []
    )
    assert hooked.source == "hook" and hooked.text.startswith("[SO-9] ORDER SO-9")
    for broken in ("hook_fails", "hook_odd", "no_such_function"):
        fallback = AiService(store, kpi, policy, AiSettings(summary_hook=f"{__name__}:{broken}")).summary(
            timeline(), []
        )
        assert fallback.source == "deterministic" and fallback.text == plain.text
