"""The scheduler role's assembly: the KPI jobs, plus the periodic jobs other packages add.

To schedule more work (e.g. alert evaluation), add a line to :func:`build_scheduler`:
``scheduler.add_job("alerts_evaluate", func, interval_s)`` — ``func()`` returns rows written (or
None); runs are recorded in job_runs, failures never stop other jobs, runs never overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from kpis.jobs import KpiEngine
from kpis.policy import Policy
from kpis.process.paths import refresh_paths
from kpis.scheduler import Scheduler, add_kpi_jobs
from storage import Store
from tower import runtime
from tower.settings import TowerSettings
from tracing.attribution import attribute_arrivals

# The attribution step for spans other writers stored (the tower's collector attributes its own
# writes at once): every few seconds, from the persisted watermark.
ATTRIBUTION_INTERVAL_S = 10.0


# What incremental KPI and attribution runs re-read before their watermark when not configured
# (kpis.arrival_overlap_s): on one server inserts
# commit within seconds; on a cluster ArrivedAt is stamped by the replica that took the insert and
# the others see the row once replicated, which the collector's quorum inserts bound by 60 s
ARRIVAL_OVERLAP_S = 5.0
CLUSTER_ARRIVAL_OVERLAP_S = 120.0


def arrival_overlap(settings: TowerSettings) -> timedelta:
    """``kpis.arrival_overlap_s``, else the default for the store's layout."""
    configured = settings.kpis.arrival_overlap_s
    if configured is None:
        configured = CLUSTER_ARRIVAL_OVERLAP_S if settings.storage.cluster else ARRIVAL_OVERLAP_S
    return timedelta(seconds=configured)


def kpi_engine(settings: TowerSettings, store: Store, policy: Policy) -> KpiEngine:
    """The KPI engine with the process's policy and the arrival overlap (:func:`arrival_overlap`)."""
    return KpiEngine(store, policy, overlap=arrival_overlap(settings))


def build_scheduler(settings: TowerSettings, store: Store, policy: Policy) -> Scheduler:
    scheduler = Scheduler(store)
    overlap = arrival_overlap(settings)
    scheduler.add_job(
        "attribution", lambda: attribute_arrivals(store, overlap=overlap).attributed, ATTRIBUTION_INTERVAL_S
    )
    if settings.kpis.enabled:
        add_kpi_jobs(scheduler, kpi_engine(settings, store, policy), settings.kpis.interval_s)
        scheduler.add_job(
            "order_paths", lambda: refresh_paths(store, record=False).rows, settings.kpis.interval_s
        )
    if settings.alerts.rules_file is not None:
        scheduler.add_job("alerts_evaluate", alert_job(settings, store, policy), settings.alerts.tick_s)
    if settings.ai.enabled:
        add_ai_jobs(scheduler, settings, store, policy)
    return scheduler


def add_ai_jobs(scheduler: Scheduler, settings: TowerSettings, store: Store, policy: Policy) -> None:
    """Scoring with the active models, monitoring, and the scheduled candidate training (a candidate
    never becomes active here unless the AI policy's auto-promote rule says so)."""
    from datetime import UTC, datetime

    from ai.monitoring import measure
    from ai.scoring import Scorer
    from ai.training import due, train

    ai_policy = runtime.ai_policy_or_exit(settings)
    scorer = Scorer(store, policy, ai_policy)

    def score() -> int:
        return sum(max(n, 0) for n in scorer.run().values())

    def monitor() -> int:
        return len(measure(store, policy, ai_policy))

    def retrain() -> int:
        if not due(store, ai_policy, datetime.now(UTC)):
            return 0
        return sum(
            1 for r in train(store, policy, ai_policy, actor="scheduled training") if r.version is not None
        )

    scheduler.add_job("ai_score", score, settings.ai.score_interval_s)
    scheduler.add_job("ai_monitor", monitor, settings.ai.monitor_interval_s, run_at_start=False)
    scheduler.add_job("ai_train", retrain, 3600, run_at_start=False)


def alert_job(settings: TowerSettings, store: Store, policy: Policy) -> Callable[[], int]:
    """Alert evaluation (each rule at its own interval); a bad rules file exits with one clear line."""
    from alerts.job import evaluation_job
    from alerts.rules import RulesError

    try:
        return evaluation_job(settings.alert_settings(), store, kpi_policy=policy)
    except RulesError as exc:
        runtime.fail(f"invalid alert rules: {exc}")
