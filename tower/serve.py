"""``tower serve``: run the collector, web and scheduler roles in one process (or a chosen few).

Each role is a :class:`Service` with ``start()`` and ``stop()``. With the embedded store all roles
must share one process, since only one process may open the data directory.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Protocol

from storage import Store
from storage.lock import announce
from tower.settings import TowerSettings

log = logging.getLogger("tower.serve")

ROLES = ("collector", "web", "scheduler")


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[TowerSettings, Store], Service]

# role -> factory; filled in by build_services as the roles are implemented
_FACTORIES: dict[str, ServiceFactory] = {}


def register(role: str, factory: ServiceFactory) -> None:
    _FACTORIES[role] = factory


def build_services(settings: TowerSettings, store: Store, roles: list[str]) -> list[Service]:
    _load_roles()
    services = []
    for role in roles:
        factory = _FACTORIES.get(role)
        if factory is None:
            log.warning("role %s is not available in this build", role)
            continue
        services.append(factory(settings, store))
    return services


def _load_roles() -> None:
    """Import the modules that register roles (kept here so that ``tower`` wires the parts)."""
    from tower import roles  # noqa: F401  (registers factories)


def run(
    settings: TowerSettings, store: Store, roles: list[str], stop_event: threading.Event | None = None
) -> None:
    """Start the services, announce the API URL in the store lock, wait for SIGINT/SIGTERM."""
    stop = stop_event or threading.Event()
    services = build_services(settings, store, roles)
    started: list[Service] = []
    try:
        for service in services:
            service.start()
            started.append(service)
            log.info("started %s", service.name)
        if "web" in roles and store.data_path is not None:
            announce(store.data_path, api_url=api_url(settings))
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        for service in reversed(started):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)


def api_url(settings: TowerSettings) -> str:
    return settings.web.public_url or f"http://{settings.web.host}:{settings.web.port}"
