"""KPI, SLA, exception, system and job pages on KPI tables computed by the real KPI jobs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import csrf_of
from fastapi.testclient import TestClient
from orderspans import NOW, base_time, quick_order

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store


@pytest.fixture(scope="module")
def facts(module_store: Store) -> Store:
    quick_order(module_store, "SO-6001")  # touchless
    quick_order(module_store, "SO-6002", manual=True)
    quick_order(module_store, "SO-6003", manual=True, channel="edi", region="west")
    # stuck at the pick for four days: capture_to_ship (48 h) is breached whatever the clock says
    quick_order(module_store, "SO-6004", open_exception="stockout", start=base_time() - timedelta(days=2))
    results = KpiEngine(module_store, load_policy()).run_all()
    assert [r for r in results if r.status != "ok"] == []
    return module_store


def _value(report: dict, name: str) -> dict:
    return next(v for v in report["values"] if v["name"] == name)


def test_kpi_api_values_and_segment_filter(facts: Store, viewer: TestClient) -> None:
    report = viewer.get("/api/kpis", params={"days": 7}).json()["report"]
    assert _value(report, "orders")["value"] == 4
    touchless = _value(report, "touchless_rate")
    assert (touchless["numerator"], touchless["denominator"]) == (2, 4)
    edi = viewer.get("/api/kpis", params={"days": 7, "channel": "edi"}).json()["report"]
    assert _value(edi, "orders")["value"] == 1
    assert _value(edi, "touchless_rate")["value"] == 0


def test_kpi_page_tiles_link_to_the_orders_behind_them(facts: Store, viewer: TestClient) -> None:
    page = viewer.get("/kpis", params={"days": 7})
    assert page.status_code == 200
    # segment filters offer the values the data has
    assert (
        '<option value="edi">edi</option>' in page.text and '<option value="west">west</option>' in page.text
    )
    assert '<option value="east" selected>' in viewer.get("/kpis", params={"region": "east"}).text
    assert 'id="kpi-touchless_rate"' in page.text and "50.0%" in page.text
    link = re.search(r'href="(/kpis/touchless_rate/orders\?[^"]+)"', page.text)
    assert link, "the touchless tile is not a link"
    drill = viewer.get(link.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200
    assert 'href="/orders/SO-6002"' in drill.text and 'href="/orders/SO-6003"' in drill.text
    assert "SO-6001" not in drill.text and "credit.clerk" in drill.text
    explained = viewer.get("/api/kpis/touchless_rate/orders", params={"days": 7}).json()
    assert sorted(o["order_id"] for o in explained["orders"]) == ["SO-6002", "SO-6003"]


def test_kpi_inputs_are_validated(facts: Store, viewer: TestClient) -> None:
    assert viewer.get("/api/kpis", params={"days": 0}).status_code == 422
    assert viewer.get("/api/kpis", params={"start": "2026-02-10", "end": "2026-02-01"}).status_code == 400
    assert viewer.get("/api/kpis", params={"channel": "x" * 101}).status_code == 422
    assert viewer.get("/api/kpis/not_a_kpi/orders").status_code == 404
    hostile = viewer.get("/api/kpis/<script>/orders")
    assert hostile.status_code == 422
    assert [p["field"] for p in hostile.json()["detail"]] == ["path.kpi"]
    page = viewer.get("/kpis", params={"days": "lots"})
    assert page.status_code == 400 and "invalid request" in page.text


def test_exceptions_queue_and_resolve_with_audit_trail(
    facts: Store, viewer: TestClient, ops: TestClient
) -> None:
    queue = viewer.get("/api/exceptions").json()
    assert [(e["order_id"], e["exception_type"]) for e in queue["items"]] == [("SO-6004", "stockout")]
    assert sum(b["open_exceptions"] for b in queue["aging"]) == 1
    page = viewer.get("/exceptions")
    assert 'href="/exceptions/stockout/SO-6004"' in page.text
    detail = viewer.get("/exceptions/stockout/SO-6004")
    assert 'id="resolve"' not in detail.text  # viewers cannot act
    forbidden = viewer.post("/exceptions/stockout/resolve/SO-6004", data={"csrf_token": csrf_of(detail.text)})
    assert forbidden.status_code == 403
    form = ops.get("/exceptions/stockout/SO-6004")
    assert 'id="resolve"' in form.text
    no_csrf = ops.post("/exceptions/stockout/resolve/SO-6004", data={"note": "x"})
    assert no_csrf.status_code == 403
    token = csrf_of(form.text)
    web = ops.app.state.web  # type: ignore[attr-defined]
    try:  # people act one after the other: the audit trail is ordered by when they acted
        web.clock = lambda: NOW + timedelta(minutes=1)
        ops.post("/exceptions/stockout/assign/SO-6004", data={"csrf_token": token, "owner": "dc1-lead"})
        web.clock = lambda: NOW + timedelta(minutes=2)
        done = ops.post(
            "/exceptions/stockout/resolve/SO-6004", data={"csrf_token": token, "note": "<b>restocked</b>"}
        )
    finally:
        web.clock = lambda: NOW
    assert done.status_code == 200
    assert 'id="exception-status">resolved' in done.text
    assert "&lt;b&gt;restocked&lt;/b&gt;" in done.text
    trail = viewer.get("/api/exceptions/stockout/SO-6004").json()["history"]
    assert [(a["action"], a["actor"]) for a in trail] == [("assign", "otto"), ("resolve", "otto")]
    assert viewer.get("/api/exceptions").json()["items"] == []
    missing = ops.post("/api/exceptions/stockout/resolve/SO-404", json={}, headers={"X-CSRF-Token": token})
    assert missing.status_code == 404


def test_sla_systems_and_jobs_pages(facts: Store, viewer: TestClient) -> None:
    sla = viewer.get("/sla", params={"days": 7})
    assert sla.status_code == 200 and "capture_to_ship" in sla.text
    assert viewer.get("/api/sla", params={"sla": "nope"}).status_code == 400
    systems = viewer.get("/systems", params={"window_s": 604800, "days": 7})
    assert systems.status_code == 200
    assert ">erp-east</text>" in systems.text and 'class="edge"' in systems.text
    handoffs = viewer.get("/api/systems", params={"window_s": 604800, "days": 7}).json()["handoffs"]
    assert {"from_system": "shop-web", "to_system": "middleware"}.items() <= next(
        h for h in handoffs if h["from_system"] == "shop-web"
    ).items()
    jobs = viewer.get("/jobs")
    assert jobs.status_code == 200 and "order_facts" in jobs.text
    runs = viewer.get("/api/jobs").json()["runs"]
    assert {r["job"] for r in runs} >= {"order_facts", "kpi_daily"}


def test_search_page_overview_and_timeline_exception_link(facts: Store, viewer: TestClient) -> None:
    home = viewer.get("/")
    assert home.status_code == 200 and "At risk" in home.text and "Past due, still open" in home.text
    recent = home.text.split("Recently captured")[1].split("</table>")[0]
    # newest first: SO-6001..6003 were captured two days ago, SO-6004 four days ago (beyond three days)
    assert re.findall(r'href="/orders/(SO-600\d)"', recent) == ["SO-6001", "SO-6002", "SO-6003"]
    overview = viewer.get("/api/orders").json()
    assert [r["order_id"] for r in overview["recent"]] == ["SO-6001", "SO-6002", "SO-6003"]
    assert "SO-6004" in {b["order_id"] for b in overview["breached_open"]}
    timeline = viewer.get("/orders/SO-6004")
    assert 'href="/exceptions/stockout/SO-6004"' in timeline.text
    # the breach the KPI jobs found is marked on the Gantt
    assert re.search(r'<line class="sla breached"[^>]*><title>Capture to ship SLA due', timeline.text)
