"""The collector service: OTLP/HTTP + OTLP/gRPC receivers, the write-ahead spool and the store writer.

Runs inside ``tower serve`` (its servers run in threads) and standalone
(``tower serve --roles collector``). ``start()`` replays what an earlier run left in the spool.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path

import grpc
import uvicorn

from collector.metrics import CollectorMetrics
from collector.otlp_grpc import create_server
from collector.otlp_http import create_app
from collector.pipeline import Pipeline
from collector.serving import ServerLimits, uvicorn_options
from collector.settings import CollectorSettings
from collector.spool import Spool
from collector.writer import StoreWriter
from storage import Store
from tracing.attribution import Attributor

log = logging.getLogger(__name__)


def _loop_kind() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return "asyncio"


def _http_kind() -> str:
    try:
        import httptools  # noqa: F401

        return "httptools"
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "h11"


class Collector:
    """Service with ``start()``/``stop()``; ``http_port``/``grpc_port`` are the bound ports."""

    name = "collector"

    def __init__(
        self,
        settings: CollectorSettings,
        store: Store,
        spool_dir: Path,
        *,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.drain_timeout_s = drain_timeout_s
        self.metrics = CollectorMetrics()
        self.spool = Spool(
            spool_dir,
            max_bytes=settings.spool_max_bytes,
            segment_max_rows=settings.batch_max_rows,
            flush_interval_s=settings.flush_interval_s,
        )
        self.pipeline = Pipeline(settings, self.spool, self.metrics)
        self.writer = StoreWriter(
            store,
            self.spool,
            self.metrics,
            initial_backoff_s=settings.retry_initial_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
            attributor=Attributor(store),
        )
        self.http_port = 0
        self.grpc_port = 0
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: grpc.Server | None = None
        self._started = False

    @property
    def http_endpoint(self) -> str:
        """Base URL of the OTLP/HTTP receiver (append ``/v1/traces``)."""
        return f"http://{self.settings.host}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """``host:port`` of the OTLP/gRPC receiver."""
        return f"{self.settings.host}:{self.grpc_port}"

    def start(self) -> None:
        settings = self.settings
        self.spool.open()
        self.metrics.observe_spool(self.spool)
        self.writer.start()
        self._grpc, self.grpc_port = create_server(
            self.pipeline, settings.host, settings.grpc_port, settings.grpc_workers
        )
        self._grpc.start()
        sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.http_port))
        sock.listen(1024)
        sock.setblocking(False)
        self.http_port = sock.getsockname()[1]
        self.limits = ServerLimits(
            header_timeout_s=settings.http_header_timeout_s,
            body_timeout_s=settings.http_body_timeout_s,
            keep_alive_timeout_s=settings.http_keep_alive_timeout_s,
            max_connections=settings.http_max_connections,
            max_header_bytes=settings.http_max_header_bytes,
        )
        options = uvicorn_options(self.limits) if _http_kind() == "httptools" else {"http": "h11"}
        config = uvicorn.Config(
            create_app(self.pipeline),
            loop=_loop_kind(),
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            **options,
        )
        self._http = uvicorn.Server(config)
        ready = threading.Event()
        server = self._http

        def run() -> None:
            async def serve() -> None:
                ready.set()
                await server.serve(sockets=[sock])

            if config.loop == "uvloop":
                import uvloop

                uvloop.run(serve())
            else:
                asyncio.run(serve())

        self._http_thread = threading.Thread(target=run, name="collector-http", daemon=True)
        self._http_thread.start()
        ready.wait(10)
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.01)
        self._started = True
        log.info(
            "collector listening http=%s grpc=%s spool=%s",
            self.http_endpoint,
            self.grpc_endpoint,
            self.spool.directory,
        )

    def stop(self) -> None:
        """Stop receiving, seal the spool, let the writer drain for a while; the rest is replayed later."""
        if not self._started:
            return
        self._started = False
        if self._http is not None:
            self._http.should_exit = True
        if self._grpc is not None:
            self._grpc.stop(grace=2).wait(5)
        if self._http_thread is not None:
            self._http_thread.join(10)
        self.spool.close()
        if not self.spool.wait_drained(self.drain_timeout_s):
            log.warning(
                "collector stopping with %d spans still in the spool %s; they are written at the next start",
                self.spool.pending_rows,
                self.spool.directory,
            )
        self.writer.stop()

    def wait_drained(self, timeout: float = 30.0) -> bool:
        """Seal the active segment and wait until every acknowledged span is in ClickHouse and
        attributed to its orders (tracing.attribution)."""
        deadline = time.monotonic() + timeout
        self.spool.seal_now()
        if not self.spool.wait_drained(timeout):
            return False
        return self.writer.wait_attributed(max(0.0, deadline - time.monotonic()))
