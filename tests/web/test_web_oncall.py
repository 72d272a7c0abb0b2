"""On-call pages on the real store: rules with state and last evaluation, an alert's detail with its
history chart and runbook, severities and inhibition shown as such, values in their units, and a
silence form that keeps what was typed when it is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import csrf_of, login, web_settings_for
from fastapi.testclient import TestClient
from support.warehouse import T0, stalled_warehouse

from alerts import state as alert_state
from alerts.evaluator import Evaluator
from alerts.model import Alert, AlertState, fingerprint
from alerts.rules import load_rules
from alerts.settings import AlertSettings
from kpis.policy import load_policy
from storage import Store
from web import create_app
from web.accounts import Accounts

RULES = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
    op: ">"
    threshold: 0
    labels: {severity: critical, team: fulfilment}
    annotations:
      summary: "{{ value|int }} orders waiting at {{ labels.warehouse }} for over 30m"
      runbook_url: https://runbooks.example.com/warehouse-stalled
  - name: SystemQuiet
    signal: system_quiet
    params: {lookback: 1d}
    group_by: [system]
    op: ">="
    threshold: 10m
    labels: {severity: warning}
    annotations:
      summary: "{{ labels.system }} quiet, stage {{ labels.stage }}"
route: {receiver: nobody}
receivers: [{name: nobody}]
inhibit_rules:
  - source_matchers: ['alertname="WarehouseStalled"']
    target_matchers: ['severity="warning"']
"""
NOW = T0 + timedelta(minutes=20)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(RULES)
    return path


@pytest.fixture(scope="module")
def evaluated(module_store: Store, rules_file: Path) -> Store:
    stalled_warehouse(module_store)
    evaluator = Evaluator(module_store, load_rules(rules_file), AlertSettings(), kpi_policy=load_policy())
    try:
        evaluator.evaluate_once(T0 + timedelta(minutes=10))
        evaluator.evaluate_once(NOW)
    finally:
        evaluator.close()
    return module_store


@pytest.fixture(scope="module")
def oncall_app(evaluated: Store, rules_file: Path, password_hash: str):  # type: ignore[no-untyped-def]
    settings = web_settings_for(password_hash)
    accounts = Accounts(evaluated, settings)
    if accounts.user_role("ada") is None:
        from conftest import PASSWORD

        from web.settings import Role

        accounts.add_user("ada", PASSWORD, Role.ADMIN)
    return create_app(
        settings,
        evaluated,
        policy=load_policy(),
        alert_settings=AlertSettings(rules_file=rules_file),
        clock=lambda: NOW,
    )


@pytest.fixture
def vera(oncall_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(oncall_app) as client:
        yield login(client, "vera")


@pytest.fixture
def otto(oncall_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(oncall_app) as client:
        yield login(client, "otto")


def _fp(store: Store, rule: str) -> str:
    [alert] = [a for a in alert_state.list_alerts(store, rule=rule) if a.state is AlertState.FIRING][:1]
    return alert.fingerprint


def test_rules_page_shows_each_rule_with_state_severity_and_last_evaluation(vera: TestClient) -> None:
    page = vera.get("/alerts/rules")
    assert page.status_code == 200
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"<tr>\s*<td><a href=\"/alerts/rules/(\w+)\".*?</tr>", page.text, re.S)
    }
    assert set(rows) == {"WarehouseStalled", "SystemQuiet"}
    stalled, quiet = rows["WarehouseStalled"], rows["SystemQuiet"]
    assert "▲▲ critical" in stalled and "st-firing" in stalled and "1 firing" in stalled
    assert f"{NOW:%Y-%m-%d %H:%M:%S} UTC" in stalled  # last evaluation
    assert 'href="https://runbooks.example.com/warehouse-stalled"' in stalled
    assert "stalled_orders &gt; 0 per warehouse" in stalled
    # the quiet systems fire, but the stalled warehouse inhibits every warning: not shown as firing
    assert "▲ warning" in quiet and "st-suppressed" in quiet and "inhibited or silenced" in quiet
    assert "system_quiet &gt;= 10m 00s per system" in quiet  # the threshold in its unit, not 600


def test_alerts_page_shows_inhibited_alerts_as_inhibited_and_values_in_their_units(
    vera: TestClient, evaluated: Store
) -> None:
    page = vera.get("/alerts")
    assert page.status_code == 200
    quiet_rows = [r for r in page.text.split("<tr>") if "SystemQuiet" in r]
    assert quiet_rows and all("st-inhibited" in r and "st-firing" not in r for r in quiet_rows)
    assert all("firing, not notified" in r for r in quiet_rows)
    seconds = [a.value for a in alert_state.list_alerts(evaluated, rule="SystemQuiet")]
    assert seconds and all(s > 600 for s in seconds)
    for row in quiet_rows:  # a duration ("1h 10m"), never raw seconds ("4,200")
        value = re.search(r'<td class="num">([^<]*)</td>', row)
        assert value and re.fullmatch(r"\d+h \d\dm|\d+m \d\ds|\d+d \d+h", value.group(1)), value
    stalled = next(r for r in page.text.split("<tr>") if "WarehouseStalled" in r)
    assert "st-firing" in stalled and "▲▲ critical" in stalled
    assert "3 orders waiting at wh-2 for over 30m" in stalled
    # a label the alert does not have reads as unknown, the summary does not trail off
    assert "quiet, stage unknown stage" in page.text


def test_alert_detail_has_history_chart_runbook_and_orders(vera: TestClient, evaluated: Store) -> None:
    fp = _fp(evaluated, "WarehouseStalled")
    page = vera.get(f"/alerts/{fp}")
    assert page.status_code == 200
    assert '<svg class="alert-history"' in page.text
    assert 'class="band st-firing"' in page.text  # the firing episode is drawn as a band
    assert 'id="runbook" href="https://runbooks.example.com/warehouse-stalled"' in page.text
    assert 'href="/orders/SO-2001"' in page.text
    history = page.text.split("<h2>History</h2>")[1]
    assert "pending" in history and "firing" in history and "value 3 &gt; 0" in history
    assert "Acknowledge" not in page.text  # a viewer cannot act
    assert "cdn" not in page.text.lower() and "<script" not in page.text


def test_rule_preview_page_shows_what_the_rule_finds_now(vera: TestClient) -> None:
    page = vera.get("/alerts/rules/WarehouseStalled")
    assert page.status_code == 200
    assert "<code>warehouse=wh-2</code>" in page.text
    assert "3 orders waiting at wh-2 for over 30m" in page.text
    assert vera.get("/alerts/rules/NoSuchRule").status_code == 404
    assert vera.get("/alerts/rules/%3Cscript%3E").status_code == 404


def test_unknown_alert_detail_is_a_404_page(vera: TestClient) -> None:
    page = vera.get("/alerts/0123456789abcdef")
    assert page.status_code == 404 and "no alert with fingerprint" in page.text
    assert vera.get("/alerts/not-hex").status_code == 400


def test_hostile_labels_and_annotations_are_escaped_and_runbook_javascript_is_refused(
    vera: TestClient, evaluated: Store
) -> None:
    labels = {"alertname": "Evil<script>alert(1)</script>", "severity": '"><img src=x onerror=alert(2)>'}
    fp = fingerprint(labels)
    alert_state.save_alerts(
        evaluated,
        [
            Alert(
                fingerprint=fp,
                rule="Evil<b>rule</b>",
                labels=labels,
                annotations={"summary": "<svg onload=alert(3)>", "runbook_url": "javascript:alert(4)"},
                state=AlertState.FIRING,
                value=float("inf"),
                active_at=NOW - timedelta(minutes=5),
                fired_at=NOW,
                last_active_at=NOW,
                evaluated_at=NOW,
            )
        ],
    )
    for url in (f"/alerts/{fp}", "/alerts"):
        page = vera.get(url)
        assert page.status_code == 200, url
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
        assert "<svg onload" not in page.text and "&lt;svg onload=alert(3)&gt;" in page.text
    detail = vera.get(f"/alerts/{fp}").text
    assert 'href="#"' in detail and "javascript:alert(4)" not in detail.split("</dl>")[0].split("Runbook")[1]


def test_a_refused_silence_keeps_the_form_and_shows_the_error_beside_it(otto: TestClient) -> None:
    page = otto.get("/alerts")
    typed = 'warehouse=~"(unclosed"\nteam="ops"'
    refused = otto.post(
        "/alerts/silences",
        data={"csrf_token": csrf_of(page.text), "matchers": typed, "comment": "night shift", "hours": "3"},
    )
    assert refused.status_code == 400
    form = refused.text.split('id="silence-form"')[1].split("</form>")[0]
    assert "warehouse=~&#34;(unclosed&#34;\nteam=&#34;ops&#34;</textarea>" in form
    assert 'value="night shift"' in form and 'value="3"' in form
    assert 'id="silence-error" role="alert"' in form and "aria-invalid" in form
    assert "<h1>Alerts</h1>" in refused.text  # the alerts page, not a bare error page
    assert otto.get("/api/alerts").json()["silences"] == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"matchers": 'team=~".*"', "comment": "all"}, "match every alert"),
        ({"matchers": "x" * 5000, "comment": "long"}, "matchers: at most 2,000 characters"),
        ({"matchers": 'team="a"', "comment": "", "hours": "2"}, "comment"),
        ({"matchers": 'team="a"', "comment": "why", "hours": "-1"}, "hours"),
        ({"matchers": 'team="a"', "comment": "why", "hours": "soon"}, "hours"),
        ({"matchers": "", "comment": "why"}, "matchers"),
    ],
)
def test_hostile_silence_forms_are_refused_on_the_page(
    otto: TestClient, fields: dict[str, str], expected: str
) -> None:
    token = csrf_of(otto.get("/alerts").text)
    refused = otto.post("/alerts/silences", data={"csrf_token": token, **fields})
    assert refused.status_code == 400
    error = re.search(r'id="silence-error" role="alert">([^<]*)<', refused.text)
    assert error and expected in error.group(1).replace("&#39;", "'"), error
    assert otto.get("/api/alerts").json()["silences"] == []


def test_ops_acknowledges_from_the_detail_page_and_lands_back_there(
    otto: TestClient, evaluated: Store
) -> None:
    fp = _fp(evaluated, "WarehouseStalled")
    page = otto.get(f"/alerts/{fp}")
    assert 'name="back" value="detail"' in page.text
    assert "warehouse=&#34;wh-2&#34;" in page.text  # the silence form comes filled with its labels
    done = otto.post(
        f"/alerts/{fp}/ack",
        data={"csrf_token": csrf_of(page.text), "comment": "picking again", "back": "detail"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/alerts/{fp}"
    assert "Acknowledged by otto" in otto.get(f"/alerts/{fp}").text


def test_rules_api_matches_the_page(vera: TestClient) -> None:
    body = vera.get("/api/alerts/rules").json()
    assert body["error"] == "" and body["rules_file"].endswith("rules.yaml")
    rules = {r["name"]: r for r in body["rules"]}
    assert rules["WarehouseStalled"]["state"] == "firing" and rules["WarehouseStalled"]["firing"] == 1
    assert rules["SystemQuiet"]["state"] == "suppressed" and rules["SystemQuiet"]["unit"] == "seconds"
    assert rules["SystemQuiet"]["last_evaluation"].startswith(f"{NOW:%Y-%m-%dT%H:%M:%S}")


def test_rules_page_without_a_rules_file_says_how_to_configure_one(viewer: TestClient) -> None:
    page = viewer.get("/alerts/rules")
    assert page.status_code == 200 and "No alert rules file is configured" in page.text
    assert viewer.get("/alerts/rules/WarehouseStalled").status_code == 404


def test_a_broken_rules_file_is_reported_on_the_pages(
    evaluated: Store, password_hash: str, tmp_path: Path
) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("rules:\n  - name: <script>\n    signal: nope\n")
    app = create_app(
        web_settings_for(password_hash),
        evaluated,
        policy=load_policy(),
        alert_settings=AlertSettings(rules_file=broken),
        clock=lambda: NOW,
    )
    with TestClient(app) as client:
        login(client, "vera")
        for url in ("/alerts/rules", "/alerts"):
            page = client.get(url)
            assert page.status_code == 200
            assert "The alert rules file does not load" in page.text and "line 2" in page.text
            assert "<script>" not in page.text
        assert client.get("/api/alerts/rules").json()["error"]
