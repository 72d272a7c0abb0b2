"""On a small simulated history: every model is trained on the earlier window and beats its
baseline on the held-out window after it; scoring with the active versions logs every prediction
with its version, features, score, thresholds and decision; nothing is written to ERP data."""

from __future__ import annotations

import numpy as np
import pytest
from ai_history import History
from clock import ANCHOR

from ai.policy import AiPolicy, parse_ai_policy
from ai.predictions import PredictionLog
from ai.registry import Registry, Status
from ai.scoring import Scorer
from ai.service import AiService
from ai.settings import AiSettings


@pytest.fixture(scope="module")
def scored(history: History) -> History:
    """Every candidate approved (as an admin would) and one scoring run done."""
    registry = Registry(history.store)
    for name, result in history.results.items():
        if registry.active(name) is None and result.version is not None:
            registry.approve(name, result.version.version, "ada", "pytest: held-out metrics reviewed")
    Scorer(history.store, history.kpi_policy, history.policy).run(ANCHOR)
    return history


def test_candidates_are_registered_with_their_window_metrics_and_card(history: History) -> None:
    assert set(history.results) == {"duplicates", "spikes", "delay", "exception_cause", "allocation"}
    for name, result in history.results.items():
        assert result.error == "", (name, result.error)
        assert result.version is not None and result.version.status is Status.CANDIDATE
        assert result.version.train_to <= result.version.holdout_from, "time-based split"
        assert result.version.card["what"] and result.version.card["algorithm"]
        assert result.version.train_rows > 0


def test_delay_beats_the_timer_baseline_on_held_out_orders(history: History) -> None:
    m = history.results["delay"].metrics
    assert m["rows"] > 500
    assert m["auc"] > m["baseline_auc"] + 0.05, m
    assert m["brier"] < m["baseline_brier"], m
    assert sum(b["count"] for b in m["calibration"]) == m["rows"]


def test_classification_beats_the_keyword_rules(history: History) -> None:
    m = history.results["exception_cause"].metrics
    assert m["rows"] > 50
    assert m["macro_f1"] > m["baseline_macro_f1"], m


def test_allocation_recommendations_beat_the_warehouses_chosen(history: History) -> None:
    m = history.results["allocation"].metrics
    assert m["orders_matching_recommendation"] > 100
    assert m["on_time_in_full_rate"] > m["baseline_rate"], m


def test_duplicate_flags_name_the_order_submitted_before(history: History) -> None:
    """Against the simulator's ground truth (which the model never saw): what is flagged is mostly a
    resubmission, and the order it names is the other half of the pair."""
    m = history.results["duplicates"].metrics
    assert m["confirmed"] >= 1
    assert m["auc"] > 0.8, m


def test_nothing_scores_until_an_admin_approves_then_every_prediction_is_logged(history: History) -> None:
    store = history.store
    scorer = Scorer(store, history.kpi_policy, history.policy)
    assert scorer.run(ANCHOR) == {}, "candidates never score"
    assert store.scalar("SELECT count() FROM ai_predictions") == 0
    traces, facts = (
        store.scalar("SELECT count() FROM otel_traces"),
        store.scalar("SELECT count() FROM order_facts"),
    )
    registry = Registry(store)
    for name, result in history.results.items():
        assert result.version is not None
        registry.approve(name, result.version.version, "ada", "pytest: held-out metrics reviewed")
    written = scorer.run(ANCHOR)
    assert all(n > 0 for n in written.values()), written
    log = PredictionLog(store)
    for name in written:
        for p in log.latest(model=name, limit=50):
            assert p.version == history.results[name].version.version  # type: ignore[union-attr]
            assert p.features and p.thresholds and p.decision and p.reason
            assert 0.0 <= p.score <= 1.0
    # the controls in force decided each prediction
    policy = history.policy.models
    for p in log.latest(model="duplicates", limit=500):
        expected = (
            "flagged"
            if p.score >= policy.duplicates.flag_threshold
            else "needs_review"
            if p.score >= policy.duplicates.review_threshold
            else "no_action"
        )
        assert p.decision == expected
    for p in log.latest(model="allocation", limit=500):
        value = float(p.features["order_value"])
        if p.decision in ("recommended", "keep_current"):
            assert p.score >= policy.allocation.min_confidence and value <= policy.allocation.max_order_value
        else:
            assert p.score < policy.allocation.min_confidence or value > policy.allocation.max_order_value
    # the tower recommends and flags: ERP data (the spans and what the KPI engine derives) is untouched
    assert store.scalar("SELECT count() FROM otel_traces") == traces
    assert store.scalar("SELECT count() FROM order_facts") == facts
    # a second run writes only what changed
    again = scorer.run(ANCHOR)
    assert again.get("duplicates", 0) == 0 and again.get("exception_cause", 0) == 0


def test_a_model_switched_off_is_neither_scored_nor_shown(scored: History) -> None:
    history = scored
    store = history.store
    off = parse_ai_policy("models:\n  spikes: {enabled: false}\n  allocation: {enabled: false}\n")
    policy = AiPolicy(
        models=off.models, training=history.policy.training, monitoring=history.policy.monitoring
    )
    written = Scorer(store, history.kpi_policy, policy).run(ANCHOR)
    assert "spikes" not in written and "allocation" not in written
    service = AiService(store, history.kpi_policy, policy)
    assert not service.enabled("spikes") and service.recommendations() == []
    assert all(f.model != "spikes" for f in service.flags(decisions=("flagged", "needs_review", "no_action")))
    everything_off = AiService(store, history.kpi_policy, history.policy, AiSettings(enabled=False))
    assert not everything_off.any_enabled and everything_off.at_risk() == []


def test_at_risk_list_is_sorted_by_risk_and_only_open_orders(scored: History) -> None:
    history = scored
    service = AiService(history.store, history.kpi_policy, history.policy)
    at_risk = service.at_risk(limit=500)
    risks = [o.risk for o in at_risk]
    assert risks == sorted(risks, reverse=True)
    assert all(r >= history.policy.models.delay.at_risk_threshold for r in risks)
    if at_risk:
        facts = history.store.rows(
            "SELECT OrderId, Status FROM order_facts FINAL WHERE OrderId IN {o:Array(String)}",
            {"o": [o.order_id for o in at_risk]},
        )
        assert {r["Status"] for r in facts} == {"open"}
        assert at_risk[0].factors, "the main factors come with the risk"


@pytest.mark.parametrize("model", ["delay", "allocation", "duplicates"])
def test_scores_are_probabilities(scored: History, model: str) -> None:
    history = scored
    scores = np.array([p.score for p in PredictionLog(history.store).latest(model=model, limit=1000)])
    assert len(scores) and ((scores >= 0) & (scores <= 1)).all()
