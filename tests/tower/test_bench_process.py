"""``tower bench process`` on a small data set: the map and the variants cover every generated order
(5,000 orders over 30 days once showed 3,559: the synthetic capture times wrapped in Int64), and the
exports (OCEL 2.0 JSON, XML, SQLite; XES), each in its own process, succeed (durations are reported by the command, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli

ORDERS = 5_000  # past 3,559: the first order whose 30-day capture offset wrapped


def test_bench_process_maps_and_exports_every_generated_order(tmp_path: Path) -> None:
    data_dir = tmp_path / "bench"
    done = cli.tower(
        "bench", "process", "--orders", str(ORDERS), "--days", "30", "--repeat", "1", "--data-dir", str(data_dir),
        data_dir=tmp_path / "unused", timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    data = figures["data"]
    assert figures["benchmark"] == "process"
    assert (data["orders_generated"], data["order_paths"], data["orders"]) == (ORDERS, ORDERS, ORDERS)
    # every order of the generator has one hop per stage (the last ones still open: fewer hops)
    assert 9 * ORDERS < data["order_spans"] <= 10 * ORDERS
    assert data["activities"] >= 10 and data["variants"] >= 2
    # the hops name documents as real traffic does (the export's span objects): a PO at every
    # capture, a shipment and tracking number at every ship, EDI envelopes for a quarter of the orders
    documents = data["spans_naming_documents"]
    assert documents["customer_po"] == ORDERS
    assert 0.2 * ORDERS < documents["edi"] < 0.3 * ORDERS
    assert 0.5 * ORDERS < documents["shipment"] == documents["tracking_number"] <= ORDERS
    assert 0 < documents["invoice"] <= documents["shipment"]
    assert figures["map_and_variants"]["repeat"] == 1
    for name in ("export_ocel_json", "export_ocel_xml", "export_ocel_sqlite", "export_xes"):
        export = figures[name]
        assert export["exit_status"] == 0, name
        assert export["bytes"] > ORDERS * 100, name  # every order is an object or a trace, every hop an event
        # the export process's own high-water mark, above the same process with the engine idle
        assert export["peak_rss_mib"] >= export["idle_engine_rss_mib"] > 50, name
        # what the idle figure is made of: the interpreter and modules before the engine, and the
        # pages of mapped files (the engine library's code) in it, which the export's queries add to
        idle = export["idle_engine_rss_mib"]
        assert 0 < export["rss_before_engine_mib"] < idle, name
        assert (
            0
            < export["idle_engine_rss_file_mib"]
            <= export["rss_file_mib_after_export"]
            < export["peak_rss_mib"]
        ), name
        assert export["cpu_seconds"] > 0, name  # the child's own CPU, reported next to the wall time
    assert not data_dir.exists() or list(data_dir.iterdir()) == [], "the store is removed without --keep"


def test_reuse_without_a_kept_store_is_refused(tmp_path: Path) -> None:
    """--reuse on a directory without a store says so instead of measuring an empty store (0 orders)."""
    empty = tmp_path / "nothing-kept"
    empty.mkdir()
    done = cli.tower(
        "bench", "process", "--reuse", "--data-dir", str(empty), "--no-export", "--repeat", "1",
        data_dir=tmp_path / "unused", timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "holds no store" in done.stderr and done.stdout == ""
    assert list(empty.iterdir()) == []  # nothing was created in it
