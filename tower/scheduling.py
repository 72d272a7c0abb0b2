"""The scheduler role's assembly: the KPI jobs, plus the periodic jobs other packages add.

To schedule more work (e.g. alert evaluation), add a line to :func:`build_scheduler`:
``scheduler.add_job("alerts_evaluate", func, interval_s)`` — ``func()`` returns rows written (or
None); runs are recorded in job_runs, failures never stop other jobs, runs never overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from kpis.jobs import KpiEngine
from kpis.policy import PolicyError, load_policy
from kpis.scheduler import Scheduler, add_kpi_jobs
from storage import Store
from tower import runtime
from tower.settings import TowerSettings


def kpi_engine(settings: TowerSettings, store: Store) -> KpiEngine:
    """The KPI engine with the configured policy; a bad policy file exits with one clear line."""
    try:
        policy = load_policy(settings.kpis.policy_file)
    except PolicyError as exc:
        runtime.fail(f"invalid KPI policy: {exc}")
    return KpiEngine(store, policy, overlap=timedelta(seconds=settings.kpis.arrival_overlap_s))


def build_scheduler(settings: TowerSettings, store: Store) -> Scheduler:
    scheduler = Scheduler(store)
    if settings.kpis.enabled:
        add_kpi_jobs(scheduler, kpi_engine(settings, store), settings.kpis.interval_s)
    if settings.alerts.rules_file is not None:
        scheduler.add_job("alerts_evaluate", alert_job(settings, store), settings.alerts.tick_seconds)
    return scheduler


def alert_job(settings: TowerSettings, store: Store) -> Callable[[], int]:
    """Alert evaluation (each rule at its own interval); a bad rules file exits with one clear line."""
    from alerts.service import RulesError, evaluation_job

    try:
        policy = load_policy(settings.kpis.policy_file)
    except PolicyError as exc:
        runtime.fail(f"invalid KPI policy: {exc}")
    try:
        return evaluation_job(settings.alert_settings(), store, kpi_policy=policy)
    except RulesError as exc:
        runtime.fail(f"invalid alert rules: {exc}")
