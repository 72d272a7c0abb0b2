"""``tower bench ingest`` on a tiny load: every acknowledged span is written, and the figures are there
(throughput is measured by the command and reported, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_ingest_writes_every_acknowledged_span_and_prints_json(tmp_path: Path) -> None:
    done = cli.tower(
        "bench", "ingest", "--seconds", "1", "--clients", "1", "--spans-per-request", "50",
        "--work-dir", str(tmp_path / "work"), data_dir=tmp_path / "unused", timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert (figures["clients"], figures["spans_per_request"]) == (1, 50)
    assert figures["acknowledged_spans"] > 0 and figures["acknowledged_spans"] % 50 == 0
    assert figures["written_spans"] == figures["acknowledged_spans"]  # acknowledged means stored
    assert (figures["refused_requests"], figures["client_errors"]) == (0, 0)
    for name in ("acknowledged_spans_per_s", "durable_spans_per_s", "spans_per_server_core_second"):
        assert figures[name] > 0, name
    assert figures["durable_spans_per_s"] <= figures["acknowledged_spans_per_s"]
    assert (
        set(figures["limits"])
        == set(figures["limits_after_run"])
        == {
            "protobuf_parse_spans_per_s",
            "raw_insert_rows_per_s",
            "python_parse_and_convert_spans_per_s",
            "python_convert_strict_spans_per_s",
        }
    )
    assert all(v > 0 for v in figures["limits"].values())
    assert figures["server_peak_rss_mib"] > 0
    assert figures["targets"] == {
        "spans_per_server_core_second": 150000,
        "durable_to_raw_insert_ratio": 0.6,
        "server_peak_rss_mib": 300,
    }
