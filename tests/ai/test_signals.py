"""Alert signals over the models' live monitoring: drift and accuracy, per model, stale data ignored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from clock import ANCHOR

from alerts.rules import Rule
from alerts.signals import evaluate
from storage import Store


def monitor(store: Store, model: str, metric: str, value: float, age: timedelta, version: int = 2) -> None:
    at = (ANCHOR - age).replace(tzinfo=None)
    store.insert(
        "ai_monitoring",
        [[model, version, at, at - timedelta(days=7), at, metric, value, 500, "{}"]],
        ["Model", "Version", "At", "WindowFrom", "WindowTo", "Metric", "Value", "Samples", "Details"],
    )


def test_drift_and_accuracy_signals_per_model(store: Store) -> None:
    monitor(store, "delay", "max_psi", 0.05, timedelta(hours=30))
    monitor(store, "delay", "max_psi", 0.41, timedelta(hours=1))  # the latest counts
    monitor(store, "exception_cause", "max_psi", 0.12, timedelta(hours=2))
    monitor(store, "delay", "live_auc", 0.71, timedelta(hours=1))
    monitor(store, "exception_cause", "live_accuracy", 0.93, timedelta(hours=1))
    monitor(store, "spikes", "live_precision", 0.5, timedelta(days=5))  # stale: no data

    drift = evaluate(store, Rule(name="ModelDrift", signal="ai_drift", threshold=0.25), ANCHOR)
    assert {(s.group["model"], round(s.value, 2)) for s in drift} == {
        ("delay", 0.41),
        ("exception_cause", 0.12),
    }
    assert all(s.group["version"] == "2" for s in drift)

    accuracy = evaluate(
        store, Rule(name="ModelAccuracyLow", signal="ai_accuracy", op="<", threshold=0.75), ANCHOR
    )
    assert {(s.group["model"], s.group["metric"], round(s.value, 2)) for s in accuracy} == {
        ("delay", "live_auc", 0.71),
        ("exception_cause", "live_accuracy", 0.93),
    }
    only = evaluate(store, Rule(name="x", signal="ai_accuracy", params={"model": "delay"}), ANCHOR)
    assert [s.group["model"] for s in only] == ["delay"]


def test_bad_signal_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown option for signal ai_drift"):
        Rule(name="x", signal="ai_drift", params={"window": "1h"})
    with pytest.raises(ValueError, match="max_age"):
        Rule(name="x", signal="ai_accuracy", params={"max_age": "soon"})
