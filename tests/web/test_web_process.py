"""The Process page and API over simulated orders: map, variants, conformance, click-throughs, the
streamed exports (read back by pm4py), and hostile query strings."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import ANCHOR
from fastapi.testclient import TestClient

from kpis.process import mining
from kpis.process.filters import make_filter
from kpis.process.paths import refresh_paths
from storage import Store
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store

RANGE = {"start": (ANCHOR - timedelta(days=10)).isoformat(), "end": (ANCHOR + timedelta(days=1)).isoformat()}


@pytest.fixture(scope="module", autouse=True)
def simulated(module_store: Store) -> Store:
    write_to_store(
        module_store, Simulator(SimulatorConfig(seed=18, orders=90, days=6, end=ANCHOR)).backfill()
    )
    assert refresh_paths(module_store).status == "ok"
    return module_store


def flt() -> Any:
    return make_filter(start=RANGE["start"], end=RANGE["end"])


def test_the_map_api_matches_the_page_and_the_page_links_to_orders(
    viewer: TestClient, simulated: Store
) -> None:
    body = viewer.get("/api/process/map", params=RANGE).json()
    assert body["orders"] == mining.process_map(simulated, flt()).orders > 50
    page = viewer.get("/process", params={**RANGE, "view": "performance"})
    assert page.status_code == 200
    assert page.text.count('class="activity"') == len(body["activities"])
    assert page.text.count('<path class="edge') == len(body["edges"])
    top = max(body["edges"], key=lambda e: e["transitions"])
    orders = viewer.get(
        "/api/process/orders",
        params={**RANGE, "source": top["source"], "target": top["target"], "limit": 1000},
    ).json()
    assert len(orders) == top["orders"]


def test_variants_and_their_orders(viewer: TestClient) -> None:
    body = viewer.get("/api/process/variants", params={**RANGE, "limit": 5}).json()
    counts = [v["orders"] for v in body["variants"]]
    assert counts == sorted(counts, reverse=True) and len(counts) <= 5
    assert sum(v["share"] for v in body["variants"]) <= 1.0 + 1e-9
    first = body["variants"][0]
    orders = viewer.get(
        "/api/process/orders", params={**RANGE, "variant": first["variant_id"], "limit": 1000}
    )
    assert len(orders.json()) == first["orders"]
    page = viewer.get("/process", params={**RANGE, "variant": first["variant_id"]})
    assert page.text.count("/orders/") >= first["orders"]


def test_conformance_lists_and_filters_deviating_orders(viewer: TestClient) -> None:
    summary = viewer.get("/api/process/conformance", params=RANGE).json()
    assert summary["total_orders"] > 0
    assert summary["deviating_orders"] < summary["total_orders"]  # the simulator mostly follows the policy
    for d in summary["deviations"][:3]:
        listed = viewer.get("/api/process/deviations", params={**RANGE, "detail": d["detail"]}).json()
        assert listed["total"] == d["orders"]
        assert all(d["detail"] in [x[1] for x in o["deviations"]] for o in listed["orders"])


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_the_ocel_export_streams_what_pm4py_reads(
    viewer: TestClient, simulated: Store, tmp_path: Path, fmt: str
) -> None:
    import pm4py

    from kpis.process import ocel

    response = viewer.get("/api/process/export/ocel", params={**RANGE, "format": fmt})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / f"log.{fmt}"
    path.write_bytes(response.content)
    reader = {"json": pm4py.read_ocel2_json, "xml": pm4py.read_ocel2_xml, "sqlite": pm4py.read_ocel2_sqlite}[
        fmt
    ]
    log = reader(str(path))
    counts = ocel.counts(simulated, flt())
    assert (len(log.events), len(log.objects), len(log.relations), len(log.o2o)) == (
        counts.events,
        counts.objects,
        counts.event_objects,
        counts.object_objects,
    )
    if fmt == "sqlite":
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM event").fetchone()[0] == counts.events


def test_the_xes_export_streams_one_trace_per_order(
    viewer: TestClient, simulated: Store, tmp_path: Path
) -> None:
    import pm4py

    response = viewer.get("/api/process/export/xes", params=RANGE)
    assert response.status_code == 200
    path = tmp_path / "log.xes"
    path.write_bytes(response.content)
    log = pm4py.read_xes(str(path))
    assert log["case:concept:name"].nunique() == mining.process_map(simulated, flt()).orders


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/process/map", {**RANGE, "planet": "mars"}, 400, "unknown parameter(s) planet"),
        ("/api/process/map", {"start": RANGE["end"], "end": RANGE["start"]}, 400, "must end after it starts"),
        ("/api/process/map", {"start": "1900-01-01T00:00:00", "end": "2300-01-01T00:00:00"}, 400, "outside"),
        (
            "/api/process/map",
            {"start": "2020-01-01T00:00:00", "end": "2026-01-01T00:00:00"},
            400,
            "at most 400 days",
        ),
        ("/api/process/map", {**RANGE, "start": "not-a-date"}, 422, "start"),
        ("/api/process/map", {**RANGE, "channel": "x" * 501}, 422, "channel"),
        ("/api/process/orders", {**RANGE, "variant": "<script>"}, 400, "not a variant id"),
        ("/api/process/orders", {**RANGE, "source": "a"}, 400, "both its source and its target"),
        ("/api/process/deviations", {**RANGE, "kind": "chaos"}, 400, "unknown deviation kind"),
        ("/api/process/variants", {**RANGE, "limit": 100000}, 422, "limit"),
        ("/api/process/export/ocel", {**RANGE, "format": "csv"}, 422, "format"),
        ("/api/process/export/xes", {**RANGE, "format": "json"}, 400, "unknown parameter(s) format"),
    ],
)
def test_hostile_query_strings_get_clear_errors(
    viewer: TestClient, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = viewer.get(path, params=params)
    assert response.status_code == status, response.text
    assert message in response.text


def test_the_page_escapes_what_came_from_a_span(viewer: TestClient) -> None:
    page = viewer.get("/process", params={**RANGE, "channel": "<script>alert(1)</script>"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_anonymous_callers_are_turned_away(anon: TestClient) -> None:
    assert anon.get("/api/process/map", params=RANGE).status_code == 401
    assert anon.get("/api/process/export/ocel", params=RANGE).status_code == 401
