"""``tower bench kpis`` on a tiny data set: the full recompute reads every order, the incremental run
only the new ones, an idle run none (durations are reported by the command, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli

JOBS = {"order_facts", "sla_results", "order_exceptions", "kpi_daily", "kpi_system_daily"}


def test_bench_kpis_recomputes_everything_then_only_what_is_new(tmp_path: Path) -> None:
    data_dir = tmp_path / "bench"
    done = cli.tower(
        "bench", "kpis", "--orders", "200", "--new-orders", "20", "--days", "2", "--data-dir", str(data_dir),
        data_dir=tmp_path / "unused", timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["benchmark"] == "kpis"
    assert (figures["data"]["orders"], figures["data"]["days"]) == (200, 2)
    assert figures["data"]["order_spans"] > 200
    full, new, idle = (
        figures["full_recompute"],
        figures["incremental_after_new_orders"],
        figures["incremental_nothing_new"],
    )
    for run in (full, new, idle):
        assert set(run["jobs"]) == JOBS
        assert {(j["status"], j["error"]) for j in run["jobs"].values()} == {("ok", None)}
        assert run["seconds"] > 0
    assert full["jobs"]["order_facts"]["rows"] == 200
    assert new["jobs"]["order_facts"]["rows"] == 20  # only the new orders are recomputed
    assert idle["jobs"]["order_facts"]["rows"] == 0
    # issue 17's targets, reported beside the figures
    assert (full["target_seconds"], new["target_seconds"]) == (5, 0.5)
    assert (figures["idle_target_seconds"], figures["peak_memory_target_mib"]) == (0.1, 1024)
    assert figures["idle_seconds"] == idle["seconds"]
    assert figures["peak_memory_mib"] >= max(full["peak_memory_mib"], new["peak_memory_mib"])
    assert not data_dir.exists() or list(data_dir.iterdir()) == [], "the store is removed without --keep"
