"""The dashboard in a real headless chromium (Debian's /usr/bin/chromium, driven by Playwright).

Spans come from the distributor simulator; the app is served by the real ``web`` role (uvicorn in a
thread). Screenshots land in the ``artifacts_dir`` for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clock import ANCHOR
from conftest import PASSWORD, web_settings_for
from orderspans import quick_order
from support.browser import BROWSER_MARKS, chromium

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import StorageSettings, Store
from tower.settings import TowerSettings
from tower.web_service import WebService
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def simulated(module_store: Store) -> Store:
    config = SimulatorConfig(seed=11, orders=120, days=6, end=ANCHOR)
    write_to_store(module_store, Simulator(config).backfill())  # only spans that ended by now
    quick_order(module_store, "SO-STUCK-1", open_exception="stockout")  # whatever the clock, one stays open
    results = KpiEngine(module_store, load_policy()).run_all()
    assert all(r.status == "ok" for r in results), results
    return module_store


@pytest.fixture(scope="module")
def server(simulated: Store, storage_settings: StorageSettings, password_hash: str) -> Iterator[str]:
    from conftest import make_app

    make_app(simulated, password_hash)
    web = web_settings_for(password_hash).model_copy(update={"port": 0})
    settings = TowerSettings(storage=storage_settings, web=web)
    service = WebService(settings, simulated, load_policy())
    service.app.state.web.clock = lambda: ANCHOR  # pages judge "now" where the simulated data ends
    service.start()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    # a strict CSP that the pages themselves violate would show up here
    assert not [e for e in errors if "Content Security Policy" in e], errors


def log_in(page: Any, user: str) -> None:
    page.goto("/")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url


def test_login_search_by_customer_po_and_open_timeline(
    page: Any, simulated: Store, artifacts_dir: Path
) -> None:
    po, order_id = simulated.query(
        "SELECT Key, OrderId FROM order_keys WHERE KeyType = 'order.customer_po' AND OrderId != '' "
        "GROUP BY Key, OrderId HAVING uniqExact(OrderId) = 1 ORDER BY count() DESC, Key LIMIT 1"
    ).result_rows[0]
    log_in(page, "otto")
    page.screenshot(path=str(artifacts_dir / "web-01-search.png"), full_page=True)
    page.fill("input[name=q]", po)
    page.press("input[name=q]", "Enter")
    page.wait_for_load_state()
    assert page.url.endswith(f"/orders/{order_id}")
    assert page.locator("h1").inner_text().startswith(f"Order {order_id}")
    bars = page.locator("svg.gantt rect.hop")
    assert bars.count() >= 3
    assert page.locator("svg.gantt rect.hop.critical").count() >= 1
    page.screenshot(path=str(artifacts_dir / "web-02-timeline.png"), full_page=True)
    # clicking a hop in the Gantt jumps to its drill-down; opening it shows the span attributes
    first = page.locator("details.hop").first
    first.locator("> summary").click()
    assert first.get_attribute("open") is not None
    assert first.locator("details.span").first.get_attribute("open") is not None
    assert "order.stage" in first.inner_text()
    page.screenshot(path=str(artifacts_dir / "web-03-hop-spans.png"), full_page=False)


def test_wrong_password_stays_on_login(page: Any) -> None:
    page.goto("/login")
    page.fill("input[name=username]", "otto")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "Wrong user name or password." in page.inner_text("main")


def test_resolve_an_exception(page: Any, simulated: Store, artifacts_dir: Path) -> None:
    log_in(page, "otto")
    page.goto("/exceptions")
    assert page.locator("h1").inner_text() == "Exceptions"
    page.screenshot(path=str(artifacts_dir / "web-04-exceptions.png"), full_page=True)
    rows = page.locator("table tbody tr td[data-label=Type] > a")
    assert rows.count() >= 1, "the simulator left no open exception"
    rows.first.click()
    page.wait_for_load_state()
    assert page.locator("#exception-status").inner_text() == "open"
    page.select_option("select[name=owner]", "otto")
    page.click("button:text-is('Assign')")
    page.wait_for_load_state()
    page.fill("form:has(#resolve) input[name=note]", "released by hand")
    page.click("#resolve")
    page.wait_for_load_state()
    assert page.locator("#exception-status").inner_text() == "resolved"
    trail = page.locator("table").last.inner_text()
    assert "assign" in trail and "resolve" in trail and "released by hand" in trail
    page.screenshot(path=str(artifacts_dir / "web-05-exception-resolved.png"), full_page=True)


def test_kpi_page_and_drill_into_orders_behind_a_tile(page: Any, artifacts_dir: Path) -> None:
    log_in(page, "vera")
    page.click("nav >> text=KPIs")
    page.wait_for_load_state()
    assert page.locator(".tile").count() >= 10
    assert page.locator(".tile svg polyline.trend").count() >= 1
    page.screenshot(path=str(artifacts_dir / "web-06-kpis.png"), full_page=True)
    tile = page.locator("#kpi-touchless_rate a.figure")
    figure = tile.inner_text()
    assert figure.endswith("%")
    tile.click()
    page.wait_for_load_state()
    assert "/kpis/touchless_rate/orders" in page.url
    orders = page.locator("table tbody tr td:first-child a")
    assert orders.count() >= 1
    page.screenshot(path=str(artifacts_dir / "web-07-kpi-orders.png"), full_page=True)
    order_id = orders.first.inner_text()
    orders.first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith(f"Order {order_id}")
    # the reason the order is not touchless is visible on its timeline
    assert page.locator("svg.gantt circle.marker-manual").count() >= 1


def test_systems_page_draws_the_handoff_map(page: Any, artifacts_dir: Path) -> None:
    log_in(page, "vera")
    page.goto("/systems?window_s=604800&days=7")
    assert page.locator("svg.map path.edge").count() >= 5
    assert page.locator("table").first.locator("tbody tr").count() >= 5
    page.screenshot(path=str(artifacts_dir / "web-08-systems.png"), full_page=True)
