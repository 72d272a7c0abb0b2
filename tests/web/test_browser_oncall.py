"""On-call, admin, API-docs and systems pages in Debian's headless chromium at 1440 and 390 px:
the pages render under the CSP, Swagger UI starts from the package, forms keep input, and the
new pages do not scroll sideways on a phone. Screenshots land in the artifacts dir."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, web_settings_for
from support.browser import BROWSER_MARKS, chromium
from support.warehouse import T0, stalled_warehouse
from test_web_oncall import RULES

from alerts.evaluator import Evaluator
from alerts.rules import load_rules
from alerts.settings import AlertSettings
from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import StorageSettings, Store
from tower.settings import TowerSettings
from tower.web_service import WebService

pytestmark = BROWSER_MARKS
NOW = T0 + timedelta(minutes=20)
WIDTHS = [1440, 390]


@pytest.fixture(scope="module")
def server(
    module_store: Store,
    storage_settings: StorageSettings,
    password_hash: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    from conftest import make_app

    rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
    rules.write_text(RULES)
    stalled_warehouse(module_store)
    KpiEngine(module_store, load_policy()).run_all()
    evaluator = Evaluator(module_store, load_rules(rules), AlertSettings(), kpi_policy=load_policy())
    try:
        evaluator.evaluate_once(T0 + timedelta(minutes=10))
        evaluator.evaluate_once(NOW)
    finally:
        evaluator.close()
    make_app(module_store, password_hash)  # the admin user
    web = web_settings_for(password_hash).model_copy(update={"port": 0})
    settings = TowerSettings(storage=storage_settings, web=web, alerts=AlertSettings(rules_file=rules))
    service = WebService(settings, module_store, load_policy())
    service.app.state.web.clock = lambda: NOW
    service.start()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def page(request: pytest.FixtureRequest, browser: Any, server: str) -> Iterator[Any]:
    width = request.param
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.width = width
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def log_in(page: Any, user: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url


def main_fits(page: Any) -> None:
    """The page's content does not scroll sideways (wide tables scroll inside their own box)."""
    overflow = page.evaluate(
        "() => Array.from(document.querySelectorAll('main > *')).map(e => e.getBoundingClientRect().right)"
        ".filter(r => r > window.innerWidth + 1).length"
    )
    assert overflow == 0, f"{overflow} block(s) of the page are wider than {page.width}px"


def test_rules_and_alert_detail(page: Any, artifacts_dir: Path) -> None:
    log_in(page, "otto")
    page.goto("/alerts/rules")
    rows = page.locator("table.rules tbody tr")
    assert rows.count() == 2
    stalled = page.locator("table.rules tr", has_text="WarehouseStalled")
    assert "▲▲ critical" in stalled.inner_text() and "FIRING" in stalled.inner_text().upper()
    main_fits(page)
    page.screenshot(path=str(artifacts_dir / f"oncall-rules-{page.width}.png"), full_page=True)
    page.goto("/alerts")
    assert page.locator(".badge.st-inhibited").count() >= 1
    main_fits(page)
    page.screenshot(path=str(artifacts_dir / f"oncall-alerts-{page.width}.png"), full_page=True)
    page.locator("a", has_text="WarehouseStalled").first.click()
    page.wait_for_load_state()
    assert page.locator("svg.alert-history rect.band.st-firing").count() >= 1
    assert page.locator("#runbook").get_attribute("href") == "https://runbooks.example.com/warehouse-stalled"
    main_fits(page)
    page.screenshot(path=str(artifacts_dir / f"oncall-alert-{page.width}.png"), full_page=True)


def test_refused_silence_keeps_what_was_typed(page: Any) -> None:
    log_in(page, "otto")
    page.goto("/alerts")
    page.fill("#silence-form textarea[name=matchers]", 'team=~".*"')
    page.fill("#silence-form input[name=comment]", "everything")
    page.click("#silence-form button[type=submit]")
    page.wait_for_load_state()
    assert "match every alert" in page.locator("#silence-error").inner_text()
    assert page.input_value("#silence-form textarea[name=matchers]") == 'team=~".*"'
    assert page.input_value("#silence-form input[name=comment]") == "everything"


def test_admin_adds_a_user_and_refresh_does_not_repeat_it(page: Any, artifacts_dir: Path) -> None:
    log_in(page, "ada")
    page.goto("/admin")
    name = f"browser{page.width}"
    page.fill("#add-user input[name=username]", name)
    page.select_option("#add-user select[name=role]", "ops")
    page.fill("#add-user input[name=password]", "password12345")
    page.click("#add-user button[type=submit]")
    page.wait_for_load_state()
    assert "too common" in page.locator("#password-error").inner_text()
    assert page.input_value("#add-user input[name=username]") == name
    page.fill("#add-user input[name=password]", "a long and unusual phrase")
    page.click("#add-user button[type=submit]")
    page.wait_for_load_state()
    assert f"User {name} added with the ops role." in page.inner_text("main")
    assert page.url.endswith("/admin#users")
    page.reload()
    page.wait_for_load_state()
    assert "added with the ops role" not in page.inner_text("main")
    assert page.locator(f"#user-{name}").count() == 1
    main_fits(page)
    page.screenshot(path=str(artifacts_dir / f"admin-users-{page.width}.png"), full_page=True)


def test_api_docs_render_swagger_ui_from_the_package(page: Any, artifacts_dir: Path) -> None:
    log_in(page, "vera")
    page.click("nav >> text=API")
    page.wait_for_load_state()
    assert page.url.endswith("/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() >= 30
    assert page.locator(".opblock-summary-description", has_text="Orders a key leads to").count() == 1
    page.screenshot(path=str(artifacts_dir / f"api-docs-{page.width}.png"), full_page=False)


def test_systems_map_is_layered(page: Any, artifacts_dir: Path) -> None:
    log_in(page, "vera")
    page.goto("/systems?window_s=604800&days=7")
    # erp-east -> wms-1 -> carrier-ups: two arrows, left to right
    assert page.locator("svg.map path.edge[marker-end]").count() == 2
    assert page.locator("svg.map g.node").count() == 3
    xs = [
        float(page.locator("svg.map g.node", has_text=n).locator("rect").get_attribute("x"))
        for n in ("erp-east", "wms-1", "carrier-ups")
    ]
    assert xs == sorted(xs) and len(set(xs)) == 3
    main_fits(page)
    page.screenshot(path=str(artifacts_dir / f"systems-map-{page.width}.png"), full_page=True)
