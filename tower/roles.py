"""The roles of a tower process — collector, web, scheduler — and how each one is built.

Each role is a :class:`Service` with ``start()`` and ``stop()``. With the embedded store all roles
must share one process, since only one process may open the data directory. This module is the
composition root's wiring: it is the one place that knows which package serves which role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from kpis.policy import Policy
from storage import Store
from tower.settings import TowerSettings

if TYPE_CHECKING:  # the collector and the agents load only for the collector role
    from collector.agents.runtime import AgentsService
    from collector.service import Collector

ROLES = ("collector", "web", "scheduler")


class Service(Protocol):
    """A part of a process that runs in the background between ``start()`` and ``stop()``."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[TowerSettings, Store, Policy], Service]


# -- web: the dashboard (uvicorn in a thread on web.host/web.port) -------------------------------
def _web_service(settings: TowerSettings, store: Store, policy: Policy) -> Service:
    from tower.web_service import WebService  # FastAPI and uvicorn load only for the web role

    return WebService(settings, store, policy)


# -- collector: OTLP/HTTP + OTLP/gRPC receivers, write-ahead spool, store writer, and the agents --
# (EDI files, carrier webhooks, DB pollers) that are enabled, started after the collector.
def _collector_service(settings: TowerSettings, store: Store, policy: Policy) -> Service:
    from collector.service import Collector

    spool_dir = settings.collector.spool_dir or settings.storage.data_dir / "spool"
    return CollectorWithAgents(Collector(settings.collector, store, spool_dir), settings)


class CollectorWithAgents:
    """A collector service plus the enabled agents, started after it so they can reach its real port."""

    def __init__(self, collector: Collector, settings: TowerSettings) -> None:
        self.collector = collector
        self.settings = settings
        self.name = getattr(collector, "name", "collector")
        self.agents: AgentsService | None = None

    def start(self) -> None:
        from collector.agents import runtime as agents_runtime

        self.collector.start()
        endpoint, token = self.settings.local_collector()
        endpoint = getattr(self.collector, "http_endpoint", None) or endpoint
        try:
            agents = agents_runtime.build_agents(
                self.settings.collector.agents, self.settings.storage.data_dir, endpoint, token
            )
        except BaseException:
            self.collector.stop()  # serve only stops services whose start() returned
            raise
        if agents:
            self.agents = agents_runtime.AgentsService(agents)
            try:
                self.agents.start()
            except BaseException:
                self.collector.stop()  # serve only stops services whose start() returned
                raise

    def stop(self) -> None:
        try:
            if self.agents is not None:
                self.agents.stop()
        finally:
            self.collector.stop()

    def __getattr__(self, item: str) -> Any:
        return getattr(self.collector, item)


# -- scheduler: KPI and SLA jobs (kpis/); other packages add periodic jobs in tower/scheduling.py ---
def _scheduler_service(settings: TowerSettings, store: Store, policy: Policy) -> Service:
    from tower.scheduling import build_scheduler

    return build_scheduler(settings, store, policy)


FACTORIES: dict[str, ServiceFactory] = {
    "collector": _collector_service,
    "web": _web_service,
    "scheduler": _scheduler_service,
}


def build_services(settings: TowerSettings, store: Store, policy: Policy, roles: list[str]) -> list[Service]:
    """One service per role, in the order given; ValueError for a role that does not exist.

    ``policy`` is the process's KPI policy, loaded once by the command (:func:`runtime.policy_or_exit`).
    """
    unknown = [role for role in roles if role not in FACTORIES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    return [FACTORIES[role](settings, store, policy) for role in roles]
