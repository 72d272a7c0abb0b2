"""The ``web`` role: the dashboard served by uvicorn in a thread, on ``web.host``/``web.port``."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from pathlib import Path

import uvicorn

from ai.service import AiService
from collector.serving import ServerLimits, uvicorn_options
from kpis.policy import Policy
from storage import Store
from tower.settings import TowerSettings
from web import create_app

log = logging.getLogger(__name__)
SECRET_FILE = "web_secret_key"


def secret_key(settings: TowerSettings) -> str:
    """``web.secret_key``, else a key generated once and kept in the data dir (mode 0600)."""
    if settings.web.secret_key is not None and settings.web.secret_key.get_secret_value():
        return settings.web.secret_key.get_secret_value()
    path = Path(settings.storage.data_dir) / SECRET_FILE
    try:
        existing = path.read_text(encoding="utf-8").strip()
        if len(existing) >= 32:
            return existing
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def ai_service(settings: TowerSettings, store: Store, policy: Policy) -> AiService:
    """The models as the dashboard uses them (switched off by ai.enabled or the AI policy)."""
    from tower import runtime

    return AiService(store, policy, runtime.ai_policy_or_exit(settings), settings.ai)


class WebService:
    """uvicorn serving the dashboard from a background thread; the socket is bound in ``start``."""

    name = "web"

    def __init__(self, settings: TowerSettings, store: Store, policy: Policy) -> None:
        self.settings = settings
        self.app = create_app(
            settings.web,
            store,
            policy=policy,
            secret_key=secret_key(settings),
            alert_settings=settings.alert_settings(),
            ai=ai_service(settings, store, policy),
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int = settings.web.port

    @property
    def url(self) -> str:
        return f"http://{self.settings.web.host}:{self.port}"

    def start(self) -> None:
        host = self.settings.web.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self.settings.web.port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(
                f"the dashboard cannot listen on {host}:{self.settings.web.port}: {exc.strerror} "
                "(set web.port / TOWER_WEB__PORT to a free port)"
            ) from None
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]
        web = self.settings.web
        self.limits = ServerLimits(
            header_timeout_s=web.header_timeout_s,
            body_timeout_s=web.body_timeout_s,
            keep_alive_timeout_s=web.keep_alive_timeout_s,
            max_connections=web.max_connections,
        )
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            **uvicorn_options(self.limits),
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tower-web", daemon=True
        )
        self._thread.start()
        log.info("dashboard at %s", self.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
