"""``tower bench alerts`` prints its figures as JSON (small run on its own store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_bench_alerts_prints_json(tmp_path: Path) -> None:
    env = {**os.environ, "TOWER_STORAGE__DATA_DIR": str(tmp_path / "unused")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tower.cli",
            "bench",
            "alerts",
            "--spans",
            "2000",
            "--samples",
            "2",
            "--groups",
            "5",
            "--data-dir",
            str(tmp_path / "bench"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["benchmark"] == "alerts" and figures["orders"] == 200
    assert set(figures["signals"]) == {
        "StalledByWarehouse",
        "StalledByStage",
        "SystemQuiet",
        "ErrorRate",
        "Latency",
        "SpanCount",
    }
    assert all(s["p50_ms"] > 0 for s in figures["signals"].values())
    assert figures["dispatch"]["delivered"] == figures["dispatch"]["received"] == 5
