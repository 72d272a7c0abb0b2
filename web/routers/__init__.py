"""One router per area; each serves its HTML pages and the same data as JSON under ``/api/``."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

log = logging.getLogger("web")

# Areas whose services live in other packages (kpis, alerts); a router whose service is not
# installed is left out and its navigation entry hidden.
OPTIONAL = ("exceptions", "sla", "kpis", "systems", "jobs", "alerts")


def optional_routers() -> list[ModuleType]:
    """The area modules whose services are available (each has ``router`` and ``NAV``)."""
    routers = []
    for name in OPTIONAL:
        try:
            module = importlib.import_module(f"web.routers.{name}")
        except ImportError as exc:
            log.warning("dashboard area %s is unavailable: %s", name, exc)
            continue
        routers.append(module)
    return routers
