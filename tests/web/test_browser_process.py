"""The Process page in a real headless chromium (Debian's /usr/bin/chromium, driven by Playwright):
the layered map stays legible (no overlapping activities, labels inside the drawing), edges, variants
and deviations click through to their orders, and the view switches to performance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from clock import ANCHOR
from conftest import PASSWORD, web_settings_for
from support.browser import BROWSER_MARKS, chromium

from kpis.policy import load_policy
from kpis.process.paths import refresh_paths
from storage import StorageSettings, Store
from tower.settings import TowerSettings
from tower.web_service import WebService
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store

pytestmark = BROWSER_MARKS
QUERY = urlencode(
    {"start": (ANCHOR - timedelta(days=10)).isoformat(), "end": (ANCHOR + timedelta(days=1)).isoformat()}
)


@pytest.fixture(scope="module")
def server(module_store: Store, storage_settings: StorageSettings, password_hash: str) -> Iterator[str]:
    from conftest import make_app

    write_to_store(
        module_store, Simulator(SimulatorConfig(seed=5, orders=150, days=6, end=ANCHOR)).backfill()
    )
    assert refresh_paths(module_store).status == "ok"
    make_app(module_store, password_hash)
    web = web_settings_for(password_hash).model_copy(update={"port": 0})
    service = WebService(TowerSettings(storage=storage_settings, web=web), module_store, load_policy())
    service.start()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto("/login")
        page.fill("input[name=username]", "vera")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        yield page
    assert not [e for e in errors if "Content Security Policy" in e], errors


def boxes(page: Any, selector: str) -> list[dict[str, float]]:
    return [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_map_is_legible_and_an_edge_opens_its_orders(page: Any, artifacts_dir: Path) -> None:
    page.goto(f"/process?{QUERY}")
    assert page.locator("h1").inner_text() == "Process"
    nodes = boxes(page, "svg.process-map rect.activity")
    assert len(nodes) >= 20  # the simulator's order-to-cash chain: ~25 activities
    assert not [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :] if overlap(a, b)]
    svg = page.locator("svg.process-map").bounding_box()
    for label in boxes(page, "svg.process-map text.edge-label"):
        assert svg["y"] - 1 <= label["y"] and label["y"] + label["height"] <= svg["y"] + svg["height"] + 1
    page.screenshot(path=str(artifacts_dir / "web-process-01-map.png"), full_page=True)
    edge = page.locator("svg.process-map a.edge-link").first
    expected = int((edge.locator("text.edge-label").text_content() or "").replace(",", ""))
    edge.click()
    page.wait_for_load_state()
    assert page.locator("table.case-orders tbody tr").count() == min(expected, 200)


def test_performance_view_variants_and_deviations_click_through(page: Any, artifacts_dir: Path) -> None:
    page.goto(f"/process?{QUERY}")
    page.select_option("select[name=view]", "performance")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "view=performance" in page.url
    assert page.locator("svg.process-map.performance").count() == 1
    assert page.locator("svg.process-map path.edge.heat4").count() >= 1  # the longest waits stand out
    page.screenshot(path=str(artifacts_dir / "web-process-02-performance.png"), full_page=True)
    first = page.locator("table.variants tbody tr").first
    count = int(first.locator("td a").inner_text().replace(",", ""))
    first.locator("td a").click()
    page.wait_for_load_state()
    assert page.locator("table.case-orders tbody tr").count() == count
    deviation = page.locator("table.deviations tbody tr").first
    orders = int(deviation.locator("td.num").inner_text().replace(",", ""))
    deviation.locator("td:nth-child(2) a").click()
    page.wait_for_load_state()
    assert page.locator("table.deviating-orders tbody tr").count() == min(orders, 200)
    page.screenshot(path=str(artifacts_dir / "web-process-03-deviations.png"), full_page=True)
