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
import time
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
