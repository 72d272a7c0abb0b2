"""``tower bench edi`` on two tiny interchanges and a 1 MiB file sent by ``tower agent edi`` in its own
process: every file processed, every span it exported stored (rates and the agent's peak RSS are
reported by the command, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli


def test_bench_edi_exports_and_stores_a_span_per_file_and_purchase_order(tmp_path: Path) -> None:
    done = cli.tower(
        "bench", "edi", "--files", "2", "--orders", "3", "--big-mib", "1", "--work-dir", str(tmp_path / "work"),
        data_dir=tmp_path / "unused", timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert (figures["files"], figures["orders_per_file"]) == (2, 3)
    assert figures["bytes"] > 0 and figures["segments"] > 2 * 3 * 5  # envelopes plus PO segments
    agent = figures["agent"]
    assert (agent["processed_files"], agent["quarantined_files"]) == (2, 0)
    assert agent["spans_exported"] == 2 * (1 + 3)  # one file span and one translation per purchase order
    assert figures["durable"]["spans_in_clickhouse"] == agent["spans_exported"]
    for name in ("files_per_s", "segments_per_s", "mib_per_s"):
        assert figures["parse_only"][name] > 0, name
    for name in ("files_per_s", "transaction_sets_per_s", "spans_per_s"):
        assert agent[name] > 0, name
    big = figures["big_file"]  # one interchange of many purchase orders, through `tower agent edi --once`
    assert big["exit_code"] == 0, big["agent_says"]
    assert big["bytes"] >= 1024 * 1024 - 2048 and big["transaction_sets"] > 1000
    assert big["spans_in_clickhouse"] == big["transaction_sets"] + 1  # one span per set plus the file's
    assert (
        f"processed 1, quarantined 0, waiting 0, failed 0, spans {big['spans_in_clickhouse']}"
        in big["agent_says"]
    )
    assert big["agent_peak_rss_mib"] > 0
