"""Model registry controls: a candidate never becomes active by itself; approval (with who and why),
the documented auto-promote rule, rollback, rejection; stored models are verified before loading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ai.policy import AutoPromote
from ai.registry import Registry, RegistryError, Status
from ai.spikes import SpikeModel
from storage import Store

WINDOW = (
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 20, tzinfo=UTC),
    datetime(2026, 1, 20, tzinfo=UTC),
    datetime(2026, 1, 27, tzinfo=UTC),
)


def register(registry: Registry, precision: float, model: str = "spikes") -> int:
    entry = registry.register(
        model,
        SpikeModel(z0=3.0 + precision),
        algorithm="robust z",
        trained_by="pytest",
        window=WINDOW,
        train_rows=100,
        metrics={"precision": precision},
        card={"what": "test"},
        features=["z"],
    )
    return entry.version


def test_a_trained_version_is_a_candidate_and_nothing_is_active(store: Store) -> None:
    registry = Registry(store)
    version = register(registry, 0.8)
    assert registry.get("spikes", version).status is Status.CANDIDATE
    assert registry.active("spikes") is None
    assert [e.action for e in registry.events("spikes")] == ["trained"]


def test_approval_needs_who_and_why_and_retires_the_active_version(store: Store) -> None:
    registry = Registry(store)
    first, second = register(registry, 0.8), register(registry, 0.9)
    with pytest.raises(RegistryError, match="give a reason"):
        registry.approve("spikes", first, "ada", "  ")
    with pytest.raises(RegistryError, match="say who decides"):
        registry.approve("spikes", first, "", "looks good")
    assert registry.active("spikes") is None
    registry.approve("spikes", first, "ada", "held-out precision 0.8")
    assert registry.active("spikes").version == first  # type: ignore[union-attr]
    registry.approve("spikes", second, "ada", "better on the same week")
    assert registry.active("spikes").version == second  # type: ignore[union-attr]
    assert registry.get("spikes", first).status is Status.RETIRED
    actions = [(e.action, e.version, e.actor) for e in reversed(registry.events("spikes"))]
    assert ("approved", second, "ada") in actions and ("retired", first, "ada") in actions
    with pytest.raises(RegistryError, match="already active"):
        registry.approve("spikes", second, "ada", "again")


def test_rollback_brings_back_the_previously_active_version(store: Store) -> None:
    registry = Registry(store)
    with pytest.raises(RegistryError, match="no active version"):
        registry.rollback("spikes", "ada", "nothing to roll back")
    first, second = register(registry, 0.8), register(registry, 0.7)
    registry.approve("spikes", first, "ada", "first")
    with pytest.raises(RegistryError, match="no earlier active version"):
        registry.rollback("spikes", "ada", "only one was ever active")
    registry.approve("spikes", second, "ada", "second")
    restored = registry.rollback("spikes", "ada", "v2 flags too much")
    assert restored.version == first
    assert registry.active("spikes").version == first  # type: ignore[union-attr]
    assert registry.get("spikes", second).status is Status.RETIRED
    assert registry.events("spikes", limit=2)[0].action in ("rolled_back_to", "rolled_back")


def test_a_rejected_candidate_can_never_become_active(store: Store) -> None:
    registry = Registry(store)
    version = register(registry, 0.1)
    registry.reject("spikes", version, "ada", "precision too low")
    with pytest.raises(RegistryError, match="rejected"):
        registry.approve("spikes", version, "ada", "changed my mind")
    assert registry.active("spikes") is None


def test_auto_promote_only_by_the_documented_rule(store: Store) -> None:
    registry = Registry(store)
    version = register(registry, 0.9)
    assert registry.auto_promote("spikes", version, AutoPromote(enabled=False), "precision") is None
    assert "auto-promotion is off" in registry.events("spikes", limit=1)[0].reason
    rule = AutoPromote(enabled=True, min_gain=0.05, min_metric={"spikes": 0.95})
    assert registry.auto_promote("spikes", version, rule, "precision") is None
    assert "below the policy's minimum" in registry.events("spikes", limit=1)[0].reason
    rule = AutoPromote(enabled=True, min_gain=0.05, min_metric={"spikes": 0.5})
    assert registry.auto_promote("spikes", version, rule, "precision") is not None
    assert registry.active("spikes").status_by == "auto-promote rule"  # type: ignore[union-attr]
    weaker = register(registry, 0.92)  # not 0.05 better than the active 0.9
    assert registry.auto_promote("spikes", weaker, rule, "precision") is None
    assert registry.active("spikes").version == version  # type: ignore[union-attr]


def test_stored_models_are_verified_before_loading(store: Store) -> None:
    registry = Registry(store)
    version = register(registry, 0.8)
    assert isinstance(registry.load("spikes", version), SpikeModel)
    store.insert(
        "ai_model_artifacts",
        [["spikes", version, "0" * 64, "tampered"]],
        ["Model", "Version", "Sha256", "Artifact"],
    )
    entry = registry.get("spikes", version)
    store.command(
        "ALTER TABLE ai_model_artifacts DELETE WHERE Model = 'spikes' AND Version = {v:UInt32} AND Sha256 = {h:String}",
        {"v": version, "h": entry.sha256},
        settings={"mutations_sync": 2},
    )
    with pytest.raises(RegistryError, match="does not match its SHA-256"):
        registry.load("spikes", version)


def test_a_model_holding_types_off_the_allow_list_is_refused(store: Store) -> None:
    registry = Registry(store)
    entry = registry.register(
        "spikes",
        {"payload": timedelta(days=1)},  # datetime.timedelta is not on the allow-list
        algorithm="x",
        trained_by="pytest",
        window=WINDOW,
        train_rows=1,
        metrics={},
        card={},
        features=[],
    )
    with pytest.raises(RegistryError, match="not on the allow-list"):
        registry.load("spikes", entry.version)
