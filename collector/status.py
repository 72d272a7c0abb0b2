"""What the writer process and the receiver processes tell each other, through files in the spool.

The writer (the process that owns the engine) writes ``<spool>/status.json`` twice a second: its
health (:class:`collector.health.Health`) and its metrics. Each receiver process writes
``<spool>/r<N>/metrics.json`` once a second. A receiver answers ``/healthz`` and ``/readyz`` from
the writer's status (degraded when it is older than ``health_stall_s``: the writer process is gone
or hung) and ``/metrics`` with every process's metrics summed, so any receiver behind the shared
port tells the whole story (figures of other processes are up to a second old).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.health import Health
from collector.metrics import CollectorMetrics, Samples, render_merged, snapshot
from collector.settings import CollectorSettings

STATUS = "status.json"
RECEIVER_METRICS = "metrics.json"


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_status(spool_root: Path, health: Health, metrics: CollectorMetrics) -> None:
    """Writer side: publish health and metrics."""
    _write_json(
        spool_root / STATUS,
        {
            "at": time.time(),
            "pid": os.getpid(),
            "health": health.as_dict(),
            "metrics": snapshot(metrics.registry),
        },
    )


def write_receiver_metrics(directory: Path, metrics: CollectorMetrics) -> None:
    """Receiver side: publish this receiver's metrics."""
    _write_json(directory / RECEIVER_METRICS, {"at": time.time(), "metrics": snapshot(metrics.registry)})


def read_health(spool_root: Path, settings: CollectorSettings) -> Health:
    """Receiver side: the writer's health, degraded when the writer has not reported lately."""
    status = _read_json(spool_root / STATUS)
    if not isinstance(status, dict) or not isinstance(status.get("health"), dict):
        return Health(status="degraded", reasons=["the writer process has not reported yet"])
    health = Health(**status["health"])
    age = time.time() - float(status.get("at", 0))
    if age > max(2.0, settings.health_stall_s):
        health.status = "degraded"
        health.reasons = [*health.reasons, f"the writer process has not reported for {age:.0f} s"]
    return health


def merged_metrics(spool_root: Path, own: CollectorMetrics, own_directory: Path) -> bytes:
    """Receiver side: this receiver's live metrics plus the other receivers' and the writer's."""
    snapshots: list[Samples] = [snapshot(own.registry)]
    for path in spool_root.glob(f"r*/{RECEIVER_METRICS}"):
        if path.parent == own_directory:
            continue
        data = _read_json(path)
        if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
            snapshots.append(data["metrics"])
    status = _read_json(spool_root / STATUS)
    if isinstance(status, dict) and isinstance(status.get("metrics"), dict):
        snapshots.append(status["metrics"])
    return render_merged(snapshots)


# a receiver's /metrics is rendered again at least this often, even when nothing seems to change
_RENDER_MAX_AGE_S = 1.0


class MergedMetrics:
    """Receiver side: :func:`merged_metrics`, rendered again only when something changed.

    ``version()`` changes whenever this receiver's own figures do (the pipeline counts its
    requests); the other processes' files are known by their inode, size and mtime (each is
    replaced whole). A client polling /metrics many times a second (``tower bench ingest`` waiting
    for the writer) then costs a few ``stat`` calls per poll instead of a render.
    """

    def __init__(
        self, spool_root: Path, own: CollectorMetrics, own_directory: Path, version: Callable[[], int]
    ) -> None:
        self.spool_root = spool_root
        self.own = own
        self.own_directory = own_directory
        self.version = version
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._body = b""
        self._rendered_at = 0.0
        self._files: dict[str, tuple[tuple[int, int, int], Samples | None]] = {}

    def _others(self) -> list[str]:
        paths = []
        try:
            with os.scandir(self.spool_root) as entries:
                for entry in entries:
                    if (
                        entry.name.startswith("r")
                        and entry.is_dir()
                        and entry.path != str(self.own_directory)
                    ):
                        paths.append(os.path.join(entry.path, RECEIVER_METRICS))
        except OSError:
            pass
        paths.sort()
        paths.append(str(self.spool_root / STATUS))
        return paths

    def render(self) -> bytes:
        paths = self._others()
        signatures = []
        for path in paths:
            try:
                stat = os.stat(path)
                signatures.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
            except OSError:
                signatures.append((0, 0, 0))
        key = (self.version(), tuple(paths), tuple(signatures))
        with self._lock:
            if key == self._key and time.monotonic() - self._rendered_at < _RENDER_MAX_AGE_S:
                return self._body
            snapshots: list[Samples] = [snapshot(self.own.registry)]
            for path, signature in zip(paths, signatures, strict=True):
                known = self._files.get(path)
                if known is None or known[0] != signature:
                    data = _read_json(Path(path))
                    samples = data.get("metrics") if isinstance(data, dict) else None
                    known = (signature, samples if isinstance(samples, dict) else None)
                    self._files[path] = known
                if known[1] is not None:
                    snapshots.append(known[1])
            self._body = render_merged(snapshots)
            self._key = key
            self._rendered_at = time.monotonic()
            return self._body
