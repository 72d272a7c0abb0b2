"""Alerts page and API over the alerts package's state (real tables)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import csrf_of
from fastapi.testclient import TestClient
from orderspans import NOW

from alerts import state as alert_state
from alerts.model import Alert, AlertState, fingerprint
from kpis.policy import load_policy
from storage import Store

LABELS = {"alertname": "WarehouseStalled", "warehouse": "DC-<script>3"}


@pytest.fixture(scope="module")
def firing(module_store: Store) -> str:
    now = NOW
    fp = fingerprint(LABELS)
    alert_state.save_alerts(
        module_store,
        [
            Alert(
                fingerprint=fp,
                rule="warehouse_stalled",
                labels=LABELS,
                annotations={"summary": "DC-3 <b>stopped</b> picking"},
                state=AlertState.FIRING,
                value=12,
                orders=["SO-7001", "SO-7002"],
                active_at=now - timedelta(minutes=20),
                fired_at=now - timedelta(minutes=10),
                last_active_at=now,
                evaluated_at=now,
            )
        ],
    )
    return fp


def test_alerts_page_lists_firing_alert_with_orders(firing: str, viewer: TestClient) -> None:
    page = viewer.get("/alerts")
    assert page.status_code == 200
    assert "WarehouseStalled" in page.text
    assert 'href="/orders/SO-7001"' in page.text
    assert "DC-&lt;script&gt;3" in page.text and "&lt;b&gt;stopped&lt;/b&gt;" in page.text
    assert "Acknowledge" not in page.text  # viewers get no action buttons


def test_viewer_cannot_acknowledge(firing: str, viewer: TestClient) -> None:
    token = csrf_of(viewer.get("/alerts").text)
    response = viewer.post(f"/alerts/{firing}/ack", data={"csrf_token": token, "comment": "x"})
    assert response.status_code == 403


def test_ops_acknowledges_and_the_ack_shows(firing: str, ops: TestClient) -> None:
    page = ops.get("/alerts")
    assert "Acknowledge" in page.text
    done = ops.post(f"/alerts/{firing}/ack", data={"csrf_token": csrf_of(page.text), "comment": "on it"})
    assert done.status_code == 200  # redirected back to the list
    assert "by otto: on it" in done.text
    detail = ops.get(f"/api/alerts/{firing}").json()
    assert detail["alert"]["ack"]["acked_by"] == "otto"
    assert any("acknowledged by otto" in change["note"] for change in detail["history"])


def test_silence_via_api_and_expire(firing: str, ops: TestClient) -> None:
    token = csrf_of(ops.get("/alerts").text)
    bad = ops.post(
        "/api/silences",
        json={"matchers": ['warehouse=~".*"'], "comment": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 400
    made = ops.post(
        "/api/silences",
        json={"matchers": ['warehouse="DC-3"'], "hours": 1, "comment": "maintenance"},
        headers={"X-CSRF-Token": token},
    )
    assert made.status_code == 201
    silence_id = made.json()["id"]
    assert [s["id"] for s in ops.get("/api/alerts").json()["silences"]] == [silence_id]
    assert ops.delete(f"/api/silences/{silence_id}", headers={"X-CSRF-Token": token}).status_code == 200
    assert ops.get("/api/alerts").json()["silences"] == []


def test_unknown_alert_is_404(firing: str, viewer: TestClient) -> None:
    assert viewer.get("/api/alerts/abcdef").status_code == 404
    assert viewer.get("/api/alerts/not-hex!").status_code == 422


RULES = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
    labels: {severity: critical}
route: {receiver: ops}
receivers:
  - name: ops
    webhook_configs: [{url: "https://hooks.example.com/hook"}]
"""


def test_rule_preview_evaluates_a_configured_rule_without_sending(
    module_store: Store, password_hash: str, tmp_path: Path
) -> None:
    from conftest import login, web_settings_for

    from alerts.settings import AlertSettings
    from web import create_app
    from web.accounts import Accounts

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = web_settings_for(password_hash)
    Accounts(module_store, settings)
    app = create_app(
        settings,
        module_store,
        policy=load_policy(),
        alert_settings=AlertSettings(rules_file=rules),
        clock=lambda: NOW,
    )
    with TestClient(app) as client:
        assert client.get("/api/alerts/rules/WarehouseStalled/test").status_code == 401
        login(client, "vera")
        preview = client.get("/api/alerts/rules/WarehouseStalled/test", params={"at": "2026-01-05T12:00:00Z"})
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert body["rule"] == "WarehouseStalled"
        assert body["at"].startswith("2026-01-05T12:00:00")
        assert body["error"] == ""
        assert body["samples"] == [] and body["notifications"] == []
        missing = client.get("/api/alerts/rules/Nope/test")
        assert missing.status_code == 404 and "Nope" in missing.json()["detail"]


def test_rule_preview_without_a_rules_file_says_so(viewer: TestClient) -> None:
    response = viewer.get("/api/alerts/rules/WarehouseStalled/test")
    assert response.status_code == 404
    assert "alerts.rules_file" in response.json()["detail"]


SILENCED_RULES = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
route: {receiver: ops, group_by: [alertname, warehouse], group_wait: 0s, repeat_interval: 30m}
receivers: [{name: ops, webhook_configs: [{url: "URL"}]}]
"""


def test_a_silence_made_on_the_page_mutes_until_it_is_expired_there(store: Store, password_hash: str) -> None:
    from conftest import login, make_app
    from support.receivers import http_recorder
    from support.warehouse import T0, stalled_warehouse

    from alerts.evaluator import Evaluator
    from alerts.rules import parse_rules
    from alerts.settings import AlertSettings

    stalled_warehouse(store)
    now = [T0]
    app = make_app(store, password_hash)
    app.state.web.clock = lambda: now[0]
    with http_recorder() as hook, TestClient(app) as ops:
        login(ops, "otto")
        evaluator = Evaluator(
            store,
            parse_rules(SILENCED_RULES.replace("URL", hook.url)),
            AlertSettings(allow_private_targets=True),
        )
        evaluator.evaluate_once(T0)
        assert [r.json()["status"] for r in hook.requests] == ["firing"]
        [alert] = alert_state.list_alerts(store)

        now[0] = T0 + timedelta(minutes=5)
        page = ops.get("/alerts")  # an alert whose rule has no summary annotation still lists
        assert page.status_code == 200 and "WarehouseStalled" in page.text
        made = ops.post(
            "/alerts/silences",
            data={
                "csrf_token": csrf_of(page.text),
                "matchers": 'warehouse="wh-2"\nalertname="WarehouseStalled"',
                "comment": "WMS patch",
                "hours": "2",
            },
            follow_redirects=False,
        )
        assert made.status_code == 303 and made.headers["location"] == "/alerts"
        [silence] = ops.get("/api/alerts").json()["silences"]
        assert (silence["created_by"], silence["comment"]) == ("otto", "WMS patch")
        assert f'action="/alerts/silences/{silence["id"]}/expire"' in ops.get("/alerts").text
        bad = ops.post(
            "/alerts/silences",
            data={"csrf_token": csrf_of(page.text), "matchers": 'team=~".*"', "comment": "all"},
        )
        assert bad.status_code == 400 and "match every alert" in bad.text

        evaluator.evaluate_once(T0 + timedelta(minutes=40))  # the repeat (due after 30m) is muted
        assert len(hook.requests) == 1
        muted = alert_state.get_alert(store, alert.fingerprint, now=T0 + timedelta(minutes=40))
        assert muted.suppressed_by == [silence["id"]]

        now[0] = T0 + timedelta(minutes=45)
        expired = ops.post(
            f"/alerts/silences/{silence['id']}/expire",
            data={"csrf_token": csrf_of(ops.get("/alerts").text)},
            follow_redirects=False,
        )
        assert expired.status_code == 303
        assert ops.get("/api/alerts").json()["silences"] == []
        assert "No active silences." in ops.get("/alerts").text

        evaluator.evaluate_once(T0 + timedelta(minutes=50))  # no longer muted: the repeat goes out
        evaluator.close()
    assert [r.json()["status"] for r in hook.requests] == ["firing", "firing"]
