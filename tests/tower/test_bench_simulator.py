"""``tower bench simulator`` prints the throughput figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_simulator_prints_json_with_every_figure(tmp_path: Path) -> None:
    result = cli.tower(
        "bench", "simulator", "--orders", "60", "--days", "3", "--otlp-orders", "10", "--fill-spans", "3000",
        "--work-dir", str(tmp_path), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["spans"] == figures["store_spans_written"] > 60 * 10
    assert figures["otlp_spans"] == figures["otlp_spans_stored"] > 0
    for name in ("generate_spans_per_second", "store_spans_per_second", "otlp_durable_spans_per_second"):
        assert figures[name] > 0
    assert figures["fill_store"]["spans"] >= 3000
    assert list(tmp_path.iterdir()) == [], "the temporary store is removed"
