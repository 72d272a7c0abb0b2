"""``tower bench ingest`` on a tiny load: every acknowledged span is written, and the figures are there
(throughput is measured by the command and reported, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_ingest_writes_every_acknowledged_span_and_prints_json(tmp_path: Path) -> None:
    done = cli.tower(
        "bench", "ingest", "--seconds", "1", "--clients", "1", "--spans-per-request", "50",
        "--receivers", "1", "--work-dir", str(tmp_path / "work"), data_dir=tmp_path / "unused", timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert (figures["clients"], figures["spans_per_request"], figures["receiver_processes"]) == (1, 50, 1)
    assert figures["distinct_spans"] is True
    assert figures["acknowledged_spans"] > 0 and figures["acknowledged_spans"] % 50 == 0
    assert figures["written_spans"] == figures["acknowledged_spans"]  # acknowledged means stored
    assert (figures["refused_requests"], figures["client_errors"]) == (0, 0)
    overload = figures["overload"]
    assert overload["written_spans"] == overload["acknowledged_spans"] > 0  # also at twice the rate
    # phase 2 really offered twice the durable rate for its whole time (it once ran out of bodies
    # after a few requests and reported an overload that never happened)
    assert overload["ran_out_of_bodies"] is False
    assert overload["seconds"] >= 1
    assert overload["acknowledged_spans"] >= 0.5 * overload["offered_spans_per_s"] * overload["seconds"]
    for name in (
        "acknowledged_spans_per_s",
        "durable_spans_per_s",
        "receiver_cpu_us_per_span",
        "engine_cpu_us_per_span",
        "receiver_peak_rss_mib",
        "tower_peak_rss_mib",
    ):
        assert figures[name] > 0, name
    assert figures["durable_spans_per_s"] <= figures["acknowledged_spans_per_s"]
    assert len(figures["load_average"]) == 2
    # the store it made is gone without --keep (a 10 s run leaves ~3 GB)
    assert not (tmp_path / "work" / "server").exists()
    assert figures["targets"] == {
        "receiver_cpu_us_per_span": 5,
        "durable_spans_per_s": 60_000,
        "engine_cpu_us_per_span": 20,
        "receiver_peak_rss_mib": 100,
        "tower_peak_rss_mib": 1024,
    }
