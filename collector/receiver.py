"""A receiver process: OTLP/HTTP and OTLP/gRPC, validation at the door, a spool of its own; no engine.

The collector service starts ``collector.receivers`` of these (``python -m collector.receiver``,
its configuration as one JSON line on stdin) so that receiving runs on every core while one
process owns the embedded engine. They share the ports: the HTTP listening socket is inherited
(the kernel hands each connection to one of them), the gRPC port is bound by each with
SO_REUSEPORT. Each spools into ``<spool>/r<N>/``; the writer inserts and deletes the sealed
segments there. The process prints ``ready`` once it serves, stops cleanly on SIGTERM (sealing
its spool) and dies with its parent. It never imports the store client or the engine.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from collector.metrics import CollectorMetrics
from collector.otlp_grpc import create_server
from collector.otlp_http import create_app, http_limits, serve_in_thread
from collector.pipeline import Pipeline
from collector.settings import CollectorSettings
from collector.spool import Spool
from collector.status import MergedMetrics, read_health, write_receiver_metrics

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError):  # not Linux: the parent stops its receivers itself
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# glibc mallopt parameters: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_HEAP_KEEP_BYTES = 64 * 1024 * 1024
_HEAP_MMAP_BYTES = 32 * 1024 * 1024


def _keep_heap() -> None:
    """Keep freed memory in the heap instead of returning it to the kernel after every request.

    Parsing a request at the door allocates a few MiB and frees it at once; with glibc's defaults
    those blocks are mapped and unmapped (or trimmed) per request, and the page faults of touching
    them again cost as much CPU as the parse. Peak memory is unchanged (bounded by the in-flight
    limit); the heap just stays at its high-water mark.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its defaults stay
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _HEAP_MMAP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _HEAP_KEEP_BYTES)


def run(config: dict[str, Any]) -> None:
    settings = CollectorSettings.model_validate(config["settings"])
    root = Path(config["spool_root"])
    directory = root / f"r{config['index']}"
    spool = Spool(
        directory,
        max_bytes=max(1, settings.spool_max_bytes // max(1, int(config["receivers"]))),
        segment_max_rows=settings.batch_max_rows,
        segment_max_bytes=settings.batch_max_bytes,
        flush_interval_s=settings.flush_interval_s,
        handed_off=True,
    )
    spool.open()
    metrics = CollectorMetrics()
    pipeline = Pipeline(settings, spool, metrics, retention_days=int(config["retention_days"]))
    merged = MergedMetrics(root, metrics, directory, lambda: pipeline.changes)
    app = create_app(pipeline, lambda: read_health(root, settings), merged.render)
    grpc_server, _port = create_server(
        pipeline, settings.host, int(config["grpc_port"]), settings.grpc_workers
    )
    grpc_server.start()
    sock = socket.socket(fileno=int(config["http_fd"]))
    sock.setblocking(False)
    http_server, http_thread = serve_in_thread(app, sock, http_limits(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("ready", flush=True)
    published = -1
    while not stop.wait(1.0):
        if pipeline.changes != published:  # an idle receiver writes nothing
            published = pipeline.changes
            write_receiver_metrics(directory, metrics)
    http_server.stop()
    grpc_server.stop(grace=2).wait(5)
    http_thread.join(10)
    spool.close()
    write_receiver_metrics(directory, metrics)


def main() -> None:
    _die_with_parent()
    _keep_heap()
    config = json.loads(sys.stdin.readline())
    logging.basicConfig(
        level=getattr(logging, str(config.get("log_level", "INFO")).upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s %(name)s[r{config['index']}] %(message)s",
    )
    run(config)


if __name__ == "__main__":
    main()
