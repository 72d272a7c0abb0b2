"""The dashboard v2 pages in a real headless chromium (Debian's /usr/bin/chromium via Playwright):
at 1440 and 390 px wide no page scrolls sideways, an axe-core audit finds no serious or critical
violation, and the interactive parts (date range, breakdown drill-down, CSV, aging bars, bulk
actions, opt-in auto-refresh under the strict CSP) work. Screenshots go to the artifacts dir.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import ANCHOR
from conftest import PASSWORD, web_settings_for
from orderspans import quick_order
from support.browser import BROWSER_MARKS, chromium

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from kpis.reports import aging_label
from storage import StorageSettings, Store
from tower.settings import TowerSettings
from tower.web_service import WebService
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store

AXE = Path(__file__).parent.parent / "fixtures" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
pytestmark = BROWSER_MARKS
WIDTHS = (1440, 390)


@pytest.fixture(scope="module")
def simulated(module_store: Store) -> Store:
    config = SimulatorConfig(seed=16, orders=150, days=8, end=ANCHOR)
    write_to_store(module_store, Simulator(config).backfill())
    quick_order(module_store, "SO-LAYOUT-1", open_exception="stockout", start=ANCHOR - timedelta(hours=30))
    quick_order(module_store, "SO-LAYOUT-2", open_exception="credit_hold", start=ANCHOR - timedelta(hours=2))
    results = KpiEngine(module_store, load_policy()).run_all()
    assert all(r.status == "ok" for r in results), results
    return module_store


@pytest.fixture(scope="module")
def server(simulated: Store, storage_settings: StorageSettings, password_hash: str) -> Iterator[str]:
    from conftest import make_app

    make_app(simulated, password_hash)  # adds the admin user
    web = web_settings_for(password_hash).model_copy(update={"port": 0})
    service = WebService(TowerSettings(storage=storage_settings, web=web), simulated, load_policy())
    service.app.state.web.clock = lambda: ANCHOR
    service.start()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _context(browser: Any, server: str, width: int, *, bypass_csp: bool = False) -> Any:
    return browser.new_context(
        base_url=server,
        viewport={"width": width, "height": 900},
        bypass_csp=bypass_csp,
        accept_downloads=True,
    )


def log_in(page: Any, user: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url


def pages(simulated: Store) -> dict[str, str]:
    order_id = simulated.query(
        "SELECT OrderId FROM order_facts FINAL WHERE Status != '' ORDER BY CaptureAt DESC, OrderId LIMIT 1"
    ).result_rows[0][0]
    return {
        "search": "/",
        "kpis": "/kpis?days=7",
        "kpis-breakdown-warehouse": "/kpis?days=7&by=warehouse",
        "kpi-drilldown": "/kpis/exception_resolution_mean/orders?days=7",
        "sla-drilldown": "/kpis/sla:order_entry/orders?days=7",
        "exceptions": "/exceptions",
        "exceptions-all": "/exceptions?status=",
        "sla": "/sla",
        "jobs": "/jobs",
        "account": "/account",
        "timeline": f"/orders/{order_id}",
    }


def horizontal_overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(
    browser: Any, server: str, simulated: Store, artifacts_dir: Path, width: int
) -> None:
    context = _context(browser, server, width)
    page = context.new_page()
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, "otto")
    too_wide = {}
    for name, path in pages(simulated).items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("p.as-of time").count() == 1, f"{path} has no 'data as of' time"
        page.screenshot(path=str(artifacts_dir / f"web-v2-{width}-{name}.png"), full_page=True)
        overflow = horizontal_overflow(page)
        if overflow > 0:
            too_wide[path] = overflow
    context.close()
    assert not too_wide, f"pages wider than the {width} px screen (extra px): {too_wide}"
    assert not csp_errors, csp_errors


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_no_serious_or_critical_violation(
    browser: Any, server: str, simulated: Store, width: int
) -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256, "vendored axe-core changed"
    context = _context(browser, server, width, bypass_csp=True)  # the audit script is injected inline
    page = context.new_page()
    log_in(page, "otto")
    found: dict[str, list[str]] = {}
    for path in pages(simulated).values():
        page.goto(path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
            "v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {v['nodes']}"
            for v in result
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            found[path] = bad
    context.close()
    for path, bad in found.items():
        print(path, *bad, sep="\n  ")
    assert not found, found


def test_kpi_date_range_breakdown_drilldown_and_csv(browser: Any, server: str, artifacts_dir: Path) -> None:
    context = _context(browser, server, 1440)
    page = context.new_page()
    log_in(page, "vera")
    page.goto("/kpis")
    last = ANCHOR.date()
    first = last - timedelta(days=5)
    page.fill("input[name=start]", first.isoformat())
    page.fill("input[name=to]", last.isoformat())
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert f"start={first.isoformat()}" in page.url and f"to={last.isoformat()}" in page.url
    hint = page.inner_text("main")
    assert f"Orders captured {first.isoformat()} to {last.isoformat()}" in hint
    assert "is incomplete" in hint  # the anchor's day is still running
    # every KPI tile has a trend chart, and targets carry words, not only colour
    tiles = page.locator(".tile")
    assert tiles.count() == 13
    assert page.locator(".tile svg polyline.trend").count() + page.locator(".tile .hint").count() >= 13
    statuses = page.locator(".tile .status").all_inner_texts()
    assert statuses and all(
        s.split(" ", 1)[1] in {"Target met", "At risk", "Target missed"} for s in statuses
    )
    # volumes of an incomplete period are not compared with a complete one
    assert "no comparison: today is incomplete" in page.locator("#kpi-orders").inner_text()
    # no internal SLA names
    sla_cells = page.locator("section:has(h2:text('SLA attainment')) td[data-label=SLA]").all_inner_texts()
    assert "Order entry SLA" in sla_cells and not [c for c in sla_cells if "_" in c]
    # breakdown by region, then drill into one region
    page.click("nav.tabs >> text=Region")
    page.wait_for_load_state()
    assert "by=region" in page.url
    rows = page.locator("#breakdown tbody tr")
    assert rows.count() >= 2
    region = rows.first.locator("td").first.inner_text()
    with page.expect_download() as download_info:
        page.click("text=Breakdown by region (CSV)")
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "Region" and table[1][0] == region
    page.screenshot(path=str(artifacts_dir / "web-v2-kpis-breakdown.png"), full_page=True)
    rows.first.locator("td a").first.click()
    page.wait_for_load_state()
    assert f"region={region}" in page.url
    assert page.locator(f"select[name=region] option[value='{region}']").get_attribute("selected") is not None
    # the exception-resolution drill-down shows durations as the tile does, and capture times
    page.goto(f"/kpis/exception_resolution_mean/orders?start={first}&to={last}")
    value = page.locator(".fact .value").first.inner_text()
    assert value == "-" or value.rstrip("smhd0123456789 ").strip() == "", value
    assert "," not in value
    captured = page.locator("td[data-label=Captured]").all_inner_texts()
    assert captured and all(c.endswith("UTC") for c in captured)
    context.close()


def test_exceptions_queue_aging_bars_bulk_assign_and_resolve(
    browser: Any, server: str, artifacts_dir: Path
) -> None:
    context = _context(browser, server, 1440)
    page = context.new_page()
    log_in(page, "otto")
    page.goto("/exceptions")
    assert page.locator("select[name=exception_type]").count() == 1
    owners = page.locator("#bulk select[name=owner] option").all_inner_texts()
    assert {"ada", "otto", "vera"} <= set(owners)
    # a click on an aging bar lists only that age group
    bars = page.locator("svg.aging a")
    assert bars.count() == len(load_policy().exception_aging_buckets) + 1
    bars.nth(1).click()
    page.wait_for_load_state()
    assert "aging=2" in page.url
    buckets = set(page.locator("td[data-label=Age] .hint").all_inner_texts())
    assert buckets and buckets <= {aging_label(load_policy().exception_aging_buckets, 2)}, buckets
    page.goto("/exceptions")
    boxes = page.locator("input[name=item]")
    assert boxes.count() >= 2
    picked = [boxes.nth(i).get_attribute("value") for i in range(2)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("#bulk select[name=owner]", "vera")
    page.click("#bulk button[value=assign]")
    page.wait_for_load_state()
    assert "2 exception(s) updated" in page.inner_text("main")
    page.click("text=My queue")
    page.wait_for_load_state()
    assert "owner=otto" in page.url
    page.goto("/exceptions?owner=vera")
    listed = page.locator("input[name=item]")
    assert {listed.nth(i).get_attribute("value") for i in range(listed.count())} >= set(picked)
    listed.first.check()
    page.fill("#bulk input[name=note]", "done in bulk")
    page.click("#bulk button[value=resolve]")
    page.wait_for_load_state()
    assert "1 exception(s) updated" in page.inner_text("main")
    page.screenshot(path=str(artifacts_dir / "web-v2-exceptions-bulk.png"), full_page=True)
    # the next step from the policy is on the rows
    assert "Next:" in page.inner_text("table")
    context.close()


def test_auto_refresh_is_opt_in_and_runs_under_the_csp(browser: Any, server: str) -> None:
    context = _context(browser, server, 390)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, "vera")
    page.goto("/exceptions")
    box = page.locator("#auto-refresh")
    assert box.is_visible()  # the script ran (CSP script-src 'self') and showed the opt-in
    assert not box.is_checked()  # off by default
    box.check()
    page.reload()
    assert page.locator("#auto-refresh").is_checked()  # remembered for the tab
    assert not errors, errors
    context.close()
    # without JavaScript the page still works and the control stays hidden
    context = browser.new_context(
        base_url=server, java_script_enabled=False, viewport={"width": 390, "height": 900}
    )
    page = context.new_page()
    log_in(page, "vera")
    page.goto("/exceptions")
    assert not page.locator("#auto-refresh").is_visible()
    assert page.locator("p.as-of a:text('Refresh')").count() == 1
    context.close()


def test_search_ignores_case(browser: Any, server: str, simulated: Store) -> None:
    order_id = simulated.query(
        "SELECT OrderId FROM order_facts FINAL WHERE match(OrderId, '[A-Z]') ORDER BY OrderId LIMIT 1"
    ).result_rows[0][0]
    context = _context(browser, server, 390)
    page = context.new_page()
    log_in(page, "vera")
    page.fill("input[name=q]", order_id.lower())
    page.press("input[name=q]", "Enter")
    page.wait_for_load_state()
    assert page.url.endswith(f"/orders/{order_id}")
    context.close()


def test_hop_chart_zooms_and_pans(browser: Any, server: str, simulated: Store, artifacts_dir: Path) -> None:
    context = _context(browser, server, 390)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, "vera")
    page.goto(pages(simulated)["timeline"])
    svg = page.locator("svg.gantt")
    wrap = page.locator(".gantt-wrap")
    before = svg.bounding_box()["width"]
    page.click("button[aria-label='Zoom in']")
    page.click("button[aria-label='Zoom in']")
    after = svg.bounding_box()["width"]
    assert after > before * 3  # 4x wider inside its box
    assert horizontal_overflow(page) <= 0  # the page itself still does not scroll sideways
    page.click("button[aria-label='Pan right']")
    assert int(wrap.evaluate("w => w.scrollLeft")) > 0
    page.screenshot(path=str(artifacts_dir / "web-v2-390-timeline-zoomed.png"), full_page=True)
    page.click("button:text-is('Reset zoom')")
    assert abs(svg.bounding_box()["width"] - before) < 2
    assert not errors, errors
    context.close()
