"""`tower bench web` end to end on a tiny data set: every figure measured, every request answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_bench_web_prints_figures_for_every_page(tmp_path: Path) -> None:
    env = {**os.environ, "TOWER_STORAGE__DATA_DIR": str(tmp_path / "unused")}
    env.pop("TOWER_CONFIG", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tower",
            "bench",
            "web",
            "--spans",
            "2000",
            "--samples",
            "3",
            "--data-dir",
            str(tmp_path / "bench"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert figures["benchmark"] == "web" and figures["spans"] >= 2000
    assert set(figures["requests"]) == {
        "timeline_page",
        "timeline_api",
        "search_api",
        "kpi_page",
        "kpi_api",
        "kpi_orders_api",
        "exceptions_page",
        "exceptions_api",
        "sla_page",
    }
    for name, figure in figures["requests"].items():
        assert figure["status"] == {"200": 3}, (name, figure)
        assert figure["p50_ms"] <= figure["p95_ms"] <= figure["max_ms"]
    assert isinstance(figures["met"], bool)
    again = subprocess.run(
        [sys.executable, "-m", "tower", "bench", "web", "--data-dir", str(tmp_path / "bench")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 2 and "already holds a store" in again.stderr
