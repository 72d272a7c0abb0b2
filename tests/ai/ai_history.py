"""A simulated history in the real store, with the KPI jobs run and every model trained once.

Small on purpose (a few thousand orders over three weeks, anchored to the tests' clock): tests assert
the controls and that models beat their baselines; the targets are measured by ``tower ai evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from clock import ANCHOR, ANCHOR_NS

from ai.policy import AiPolicy, Training, load_ai_policy
from ai.training import TrainResult, train
from kpis.jobs import KpiEngine
from kpis.policy import Policy, load_policy
from storage import Store
from tracing.simulator import GroundTruth, Simulator, SimulatorConfig
from tracing.sinks import write_to_store

ORDERS = 3000
DAYS = 21


@dataclass
class History:
    store: Store
    truth: GroundTruth
    kpi_policy: Policy
    policy: AiPolicy
    results: dict[str, TrainResult]


def small_policy(**training: int) -> AiPolicy:
    base = load_ai_policy(None)
    window = {
        "history_days": 9,
        "holdout_days": 5,
        "label_maturity_days": 5,
        "retrain_every_days": 0,
        **training,
    }
    return AiPolicy(models=base.models, training=Training(**window), monitoring=base.monitoring)


@pytest.fixture(scope="module")
def history(module_store: Store) -> History:
    truth = GroundTruth()
    config = SimulatorConfig(orders=ORDERS, days=DAYS, end=ANCHOR, seed=21)
    write_to_store(module_store, Simulator(config, truth=truth).backfill(ANCHOR_NS))
    kpi_policy = load_policy(None)
    KpiEngine(module_store, kpi_policy).recompute()
    policy = small_policy()
    results = train(module_store, kpi_policy, policy, as_of=ANCHOR, actor="pytest")
    return History(module_store, truth, kpi_policy, policy, {r.model: r for r in results})
