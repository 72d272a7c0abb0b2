"""One router per area; each serves its HTML pages and the same data as JSON under ``/api/``."""

from __future__ import annotations

from types import ModuleType


def areas() -> list[ModuleType]:
    """The navigable areas after the order search, in menu order (each has ``router`` and ``NAV``)."""
    from web.routers import ai, alerts, exceptions, jobs, kpis, process, sla, systems

    return [exceptions, sla, kpis, systems, process, jobs, alerts, ai]
