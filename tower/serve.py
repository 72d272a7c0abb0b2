"""``tower serve``: run the collector, web and scheduler roles in one process (or a chosen few).

The roles are built by :mod:`tower.roles`; this module starts them, announces the API URL in the
store's lock file and stops them again on SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading

from kpis.policy import Policy
from storage import Store
from storage.lock import announce
from tower.roles import Service, build_services
from tower.settings import TowerSettings
from tower.web_service import WebService

log = logging.getLogger(__name__)


def run(
    settings: TowerSettings,
    store: Store,
    policy: Policy,
    roles: list[str],
    stop_event: threading.Event | None = None,
) -> None:
    """Start the services, announce the API URL in the store lock, wait for SIGINT/SIGTERM."""
    stop = stop_event or threading.Event()
    services = build_services(settings, store, policy, roles)
    started: list[Service] = []
    try:
        for service in services:
            service.start()
            started.append(service)
            log.info("started %s", service.name)
        if "web" in roles and store.data_path is not None:
            # the port actually bound (web.port 0 means any free port), unless a public URL is set
            web = next((s for s in started if isinstance(s, WebService)), None)
            url = settings.web.public_url or (web.url if web is not None else settings.api_url())
            announce(store.data_path, api_url=url)
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
