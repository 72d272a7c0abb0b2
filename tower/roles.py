"""Registers the services of each role with :mod:`tower.serve` (the composition root's wiring)."""

from __future__ import annotations

from storage import Store
from tower.serve import Service, register
from tower.settings import TowerSettings


# -- web: the dashboard (uvicorn in a thread on web.host/web.port) -------------------------------
def _web_service(settings: TowerSettings, store: Store) -> Service:
    from tower.web_service import WebService

    return WebService(settings, store)


register("web", _web_service)


# -- collector: OTLP/HTTP + OTLP/gRPC receivers, write-ahead spool, store writer -------------------
def _collector_service(settings: TowerSettings, store: Store) -> Service:
    from collector.service import Collector

    spool_dir = settings.collector.spool_dir or settings.storage.data_dir / "spool"
    return Collector(settings.collector, store, spool_dir)


# -- agents (EDI files, carrier webhooks, DB pollers): started with the collector when enabled -----
def _collector_with_agents(settings: TowerSettings, store: Store) -> Service:
    from tower.agent import CollectorWithAgents

    return CollectorWithAgents(_collector_service(settings, store), settings)


register("collector", _collector_with_agents)


# -- scheduler: KPI and SLA jobs (kpis/); other packages add periodic jobs in tower/scheduling.py ---
def _scheduler_service(settings: TowerSettings, store: Store) -> Service:
    from tower.scheduling import build_scheduler

    return build_scheduler(settings, store)


register("scheduler", _scheduler_service)
