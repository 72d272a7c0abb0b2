"""``tower bench receiver`` on a tiny load: every request is acknowledged by the lone receiver and the
figures are there (CPU per span is measured by the command and reported, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_receiver_acknowledges_every_span_and_prints_json(tmp_path: Path) -> None:
    done = cli.tower(
        "bench", "receiver", "--requests", "6", "--clients", "2", "--spans-per-request", "50",
        "--work-dir", str(tmp_path / "work"), data_dir=tmp_path / "unused", timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert (figures["requests"], figures["clients"], figures["spans_per_request"]) == (6, 2, 50)
    assert (figures["acknowledged_spans"], figures["refused_requests"]) == (300, 0)
    assert figures["receiver_cpu_us_per_span"] >= 0
    assert len(figures["load_average"]) == 2
