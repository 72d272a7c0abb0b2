"""The collector service: OTLP/HTTP + OTLP/gRPC receivers, the write-ahead spool and the store writer.

Runs inside ``tower serve`` and standalone (``tower serve --roles collector``). With
``collector.receivers`` > 0 (the default), receiving runs in that many receiver processes
(:mod:`collector.receiver`: no engine loaded, validation at the door, a spool each) sharing the
ports, and this process only writes: it owns the store, inserts what the receivers spooled,
publishes its health for them (:mod:`collector.status`) and restarts a receiver that died. With 0,
the receivers run here in threads (tests, small set-ups). ``start()`` replays what an earlier run
left in the spool.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from collector.health import Health, assess
from collector.metrics import CollectorMetrics
from collector.otlp_grpc import create_server
from collector.otlp_http import OtlpServer, create_app, http_limits, listening_socket, serve_in_thread
from collector.pipeline import Pipeline
from collector.settings import CollectorSettings
from collector.spool import OPEN_SUFFIX, SUFFIX, Spool
from collector.status import write_status
from collector.writer import StoreWriter
from storage import Store
from tracing.attribution import Attributor

log = logging.getLogger(__name__)

# How often an idle writer looks for segments receiver processes sealed (a lone request's wait).
RESCAN_S = 0.02


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
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.store = store
        self.drain_timeout_s = drain_timeout_s
        self.metrics = CollectorMetrics()
        self.processes = settings.receivers
        self.spool = Spool(
            spool_dir,
            max_bytes=settings.spool_max_bytes,
            segment_max_rows=settings.batch_max_rows,
            segment_max_bytes=settings.batch_max_bytes,
            flush_interval_s=settings.flush_interval_s,
        )
        if self.processes:
            # receivers seal their segments in other processes: look for them often while idle
            self.spool.rescan_s = min(RESCAN_S, settings.flush_interval_s)
        self.retention_days = store.settings.ttl_days.get("otel_traces", 0)
        self.pipeline = Pipeline(
            settings, self.spool, self.metrics, retention_days=self.retention_days, clock=clock
        )
        self.writer = StoreWriter(
            store,
            self.spool,
            self.metrics,
            limits=self.pipeline.limits,
            batch_max_rows=settings.batch_max_rows,
            batch_max_bytes=settings.batch_max_bytes,
            python_convert_max_rows=settings.python_convert_max_rows,
            initial_backoff_s=settings.retry_initial_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
            attributor=Attributor(store),
        )
        self.http_port = 0
        self.grpc_port = 0
        self._http: OtlpServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: grpc.Server | None = None
        self._sockets: list[socket.socket] = []
        self._children: dict[int, subprocess.Popen[str]] = {}
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
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
        sealed = self.spool.seal_leftovers() if self.processes else 0
        self.spool.open()
        if sealed:
            log.info("spool: sealed %d segment(s) receivers were appending to when they ended", sealed)
        self.metrics.observe_spool(self.spool)
        self.writer.start()
        try:
            http_socket = listening_socket(settings.host, settings.http_port)
            self._sockets.append(http_socket)
            self.http_port = http_socket.getsockname()[1]
            if self.processes:
                self._start_receivers(http_socket)
            else:
                self._grpc, self.grpc_port = create_server(
                    self.pipeline, settings.host, settings.grpc_port, settings.grpc_workers
                )
                self._grpc.start()
                self._http, self._http_thread = serve_in_thread(
                    create_app(self.pipeline, self.health), http_socket, http_limits(settings)
                )
        except BaseException:  # a port taken, a receiver that did not start: undo, then say why
            self._started = True
            self.stop()
            raise
        self._started = True
        log.info(
            "collector listening http=%s grpc=%s spool=%s receivers=%s",
            self.http_endpoint,
            self.grpc_endpoint,
            self.spool.directory,
            self.processes or "in-process",
        )

    # -- receiver processes ------------------------------------------------------------------

    def _start_receivers(self, http_socket: socket.socket) -> None:
        settings = self.settings
        # hold the gRPC port (SO_REUSEPORT, not listening) so that every receiver binds the same one
        reserve = socket.socket(
            socket.AF_INET6 if ":" in settings.host else socket.AF_INET, socket.SOCK_STREAM
        )
        reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserve.bind((settings.host, settings.grpc_port))
        self._sockets.append(reserve)
        self.grpc_port = reserve.getsockname()[1]
        http_socket.set_inheritable(True)
        for index in range(self.processes):
            self._children[index] = self._spawn(index, http_socket)
        self._supervisor = threading.Thread(target=self._supervise, args=(http_socket,), daemon=True)
        self._supervisor.start()

    def _spawn(self, index: int, http_socket: socket.socket) -> subprocess.Popen[str]:
        return start_receiver(
            self.settings,
            index=index,
            receivers=self.processes,
            spool_root=self.spool.directory,
            http_socket=http_socket,
            grpc_port=self.grpc_port,
            retention_days=self.retention_days,
            log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        )

    def _supervise(self, http_socket: socket.socket) -> None:
        """Publish health for the receivers; restart a receiver that died."""
        while not self._stopping.wait(0.5):
            with contextlib.suppress(Exception):
                health = self.health()
                self.metrics.observe_spool(self.spool)
                health.observe(self.metrics)
                write_status(self.spool.directory, health, self.metrics)
            for index, process in list(self._children.items()):
                if process.poll() is None or self._stopping.is_set():
                    continue
                log.error("collector receiver %d exited (code %s); restarting it", index, process.returncode)
                try:
                    self._children[index] = self._spawn(index, http_socket)
                except Exception:
                    log.exception("collector receiver %d could not be restarted", index)

    def _pending_elsewhere(self) -> bool:
        """Receivers' segments not yet taken in by the writer (open with data, or sealed)."""
        root = self.spool.directory
        for path in root.glob(f"r*/*{OPEN_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_size > 0:
                    return True
        return any(True for _ in root.glob(f"r*/*{SUFFIX}"))

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop receiving, seal the spool, let the writer drain for a while; the rest is replayed later."""
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        if self._http is not None:
            self._http.stop()
        if self._grpc is not None:
            self._grpc.stop(grace=2).wait(5)
        if self._http_thread is not None:
            self._http_thread.join(10)
        for process in self._children.values():
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in self._children.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._supervisor is not None:
            self._supervisor.join(5)
        for sock in self._sockets:
            sock.close()
        self.spool.close()
        self.spool.adopt_new()
        if not self.spool.wait_drained(self.drain_timeout_s):
            log.warning(
                "collector stopping with %d spans still in the spool %s; they are written at the next start",
                self.spool.pending_rows,
                self.spool.directory,
            )
        self.writer.stop()

    def health(self) -> Health:
        """ok or degraded, and why (served at /healthz and /readyz)."""
        return assess(self.settings, self.spool, self.writer)

    def wait_drained(self, timeout: float = 30.0) -> bool:
        """Seal the active segment and wait until every acknowledged span is in ClickHouse and
        attributed to its orders (tracing.attribution)."""
        deadline = time.monotonic() + timeout
        self.spool.seal_now()
        while self.processes and self._pending_elsewhere():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        self.spool.adopt_new()
        if not self.spool.wait_drained(max(0.0, deadline - time.monotonic())):
            return False
        return self.writer.wait_attributed(max(0.0, deadline - time.monotonic()))


def start_receiver(
    settings: CollectorSettings,
    *,
    index: int,
    receivers: int,
    spool_root: Path,
    http_socket: socket.socket,
    grpc_port: int,
    retention_days: int,
    log_level: str,
) -> subprocess.Popen[str]:
    """Start receiver process ``index`` (``collector.receiver``) on the inherited HTTP socket; return
    once it says it is ready (killed and an error raised when it does not)."""
    values = settings.model_dump(mode="json", exclude={"agents"})
    values["tokens"] = [token.get_secret_value() for token in settings.tokens]
    config = {
        "index": index,
        "receivers": receivers,
        "spool_root": str(spool_root),
        "http_fd": http_socket.fileno(),
        "grpc_port": grpc_port,
        "retention_days": retention_days,
        "log_level": log_level,
        "settings": values,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "collector.receiver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(http_socket.fileno(),),
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(config) + "\n")
    process.stdin.flush()
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"collector receiver {index} did not start (exit code {process.wait()})")
    return process
