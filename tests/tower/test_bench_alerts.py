"""``tower bench alerts`` prints its figures as JSON (small run on its own store)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_alerts_prints_json(tmp_path: Path) -> None:
    done = cli.tower(
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
        data_dir=tmp_path / "unused",
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
