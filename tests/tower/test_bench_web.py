"""`tower bench web` end to end on a tiny data set: every figure measured, every request answered."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_web_prints_figures_for_every_page(tmp_path: Path) -> None:
    unused = tmp_path / "unused"
    result = cli.tower(
        "bench", "web", "--spans", "2000", "--samples", "3", "--data-dir", str(tmp_path / "bench"),
        data_dir=unused, timeout=300,
    )  # fmt: skip
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
    again = cli.tower("bench", "web", "--data-dir", str(tmp_path / "bench"), data_dir=unused, timeout=120)
    assert again.returncode == 2 and "already holds a store" in again.stderr
