"""``tower bench query`` on a small data set: the generated orders resolve by every key type and the
figures come out as JSON (latency is measured by the command, never asserted here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import cli


def test_bench_query_prints_figures_for_every_key_type_and_measures_a_kept_store_again(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "bench"

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return cli.tower(
            "bench", "query", "--spans", "3000", "--samples", "5", "--freshness-samples", "6",
            "--data-dir", str(data_dir), *extra, cwd=tmp_path, timeout=300,
        )  # fmt: skip

    done = run("--keep")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["orders"] == 300
    assert figures["spans"] >= 3000
    expected_orders = {
        "order.id": 1,
        "order.customer_po": 1,
        "order.ecommerce_id": 1,
        "edi.transaction_set_control_number": 1,
        "shipment.id": 1,
        "shipment.tracking_number": 1,
        "invoice.id": 2,  # two orders per invoice
    }
    for key_type, per_key in expected_orders.items():
        lookup = figures["lookup"][key_type]
        assert "misses" not in lookup, key_type
        assert lookup["orders_per_key"] == per_key, key_type
        assert lookup["p50_ms"] <= lookup["p95_ms"] <= lookup["p99_ms"]
    # a file's name, interchange and group numbers and its middleware batch lead to the file's EDI orders
    for key_type in (
        "edi.interchange_control_number",
        "edi.group_control_number",
        "order.batch.id",
        "order.batch.id (EDI file name)",
    ):
        assert "misses" not in figures["lookup"][key_type], key_type
        assert figures["lookup"][key_type]["orders_per_key"] > 1, key_type
    assert set(figures["lookup_p95_ms"]) == set(figures["lookup"])
    assert figures["timeline_p95_ms"] == figures["timeline"]["p95_ms"]
    timeline = figures["timeline"]
    assert timeline["hops_avg"] == 11  # ten hops and the nightly invoice run
    assert timeline["traces_avg"] >= 4
    assert figures["trace_by_id"]["spans_avg"] == 3
    assert set(figures["met"]) == {"lookup_p95", "timeline_p95", "freshness_lag_p95"}
    assert figures["merge_s"] is not None  # read-side tables merged before measuring
    # every generated span is in the order-keyed table (shared ones once per order), none twice
    assert figures["order_span_rows"] > figures["spans"]
    assert "otel_traces_by_trace" not in figures["tables"]
    # live single-span requests through a real collector, each seen on its order's timeline
    fresh = figures["freshness_lag"]
    assert (fresh["samples"], fresh["misses"]) == (6, 0)
    assert set(fresh["by_span"]) == {"names the order", "key only"}
    assert figures["freshness_lag_p95_ms"] == fresh["p95_ms"]
    assert figures["data_dir"] == str(data_dir)

    # without --reuse a store already there is refused, never overwritten
    refused = run()
    assert refused.returncode != 0
    assert "already holds a store" in refused.stderr
    again = run("--reuse", "--no-merge")
    assert again.returncode == 0, again.stderr
    reused = json.loads(again.stdout)
    assert reused["reused"] is True
    assert reused["spans"] == figures["spans"]  # the same data, nothing generated twice
    assert reused["generate_s"] is None
    assert reused["timeline"]["hops_avg"] == 11
    assert reused["lookup"]["order.id"]["orders_per_key"] == 1


def test_bench_query_without_data_dir_removes_its_temporary_store(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = cli.tower(
        "bench", "query", "--spans", "300", "--samples", "2", "--freshness-samples", "2",
        cwd=tmp_path, env={"TMPDIR": str(scratch)}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data_dir"] is None
    assert list(scratch.iterdir()) == [], "the temporary store and spool are removed"
