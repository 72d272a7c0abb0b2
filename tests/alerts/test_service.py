"""``alerts.preview`` and ``alerts.job``: a rule preview stores and sends nothing, and the scheduler's evaluation job
reloads a changed rules file and survives a broken one."""

from __future__ import annotations

import json
from pathlib import Path

from support.receivers import http_recorder
from support.warehouse import T0

from alerts import state
from alerts.model import AlertState
from kpis.policy import load_policy
from storage import Store

RULES = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
    labels: {severity: critical}
    annotations: {summary: "{{ value|int }} orders waiting at {{ labels.warehouse }}"}
route: {receiver: ops, group_by: [alertname, warehouse], group_wait: 0s}
receivers:
  - name: ops
    webhook_configs: [{url: "URL/hook"}]
    pagerduty_configs: [{routing_key: secret-routing-key}]
"""


def test_a_rule_test_stores_and_sends_nothing(store: Store, tmp_path: Path) -> None:
    from support.warehouse import stalled_warehouse

    from alerts.preview import preview_rule
    from alerts.settings import AlertSettings

    stalled_warehouse(store)
    with http_recorder() as hook:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("URL", hook.url))
        settings = AlertSettings(rules_file=rules, allow_private_targets=True)
        preview = preview_rule(store, settings, "WarehouseStalled", T0, load_policy())
    assert [a.labels["warehouse"] for a in preview.alerts] == ["wh-2"]
    assert [n["integration"] for n in preview.notifications] == ["webhook[0]", "pagerduty[0]"]
    assert hook.requests == []
    assert state.list_alerts(store) == []
    assert state.notification_log(store) == []


def test_a_no_data_rule_test_is_valid_json(store: Store, tmp_path: Path) -> None:
    from alerts.preview import preview_rule
    from alerts.settings import AlertSettings

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: Quiet\n    signal: span_count\n    op: '<'\n    threshold: 1\n    no_data: alerting\n"
        "route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'https://hooks.example.com/x'}]}]\n"
    )
    preview = preview_rule(store, AlertSettings(rules_file=rules), "Quiet", T0, load_policy())
    assert preview.samples == [{"group": {"alert_reason": "no_data"}, "value": None, "orders": []}]
    [alert] = preview.alerts
    assert alert.labels == {"alertname": "Quiet", "alert_reason": "no_data"} and alert.value == 0.0
    json.loads(preview.model_dump_json())  # strict JSON: no NaN
    assert json.loads(json.dumps(preview.model_dump(mode="json"), allow_nan=False))["rule"] == "Quiet"


def test_the_job_reloads_a_changed_rules_file_and_survives_a_broken_one(store: Store, tmp_path: Path) -> None:
    from alerts.job import EvaluationJob
    from alerts.settings import AlertSettings

    rules = tmp_path / "rules.yaml"
    first = "rules:\n  - {name: A, signal: span_count, op: '<', threshold: 1, no_data: alerting}\nroute: {receiver: r}\nreceivers: [{name: r}]\n"
    rules.write_text(first)
    job = EvaluationJob(AlertSettings(rules_file=rules), store, load_policy())
    job()
    assert [a.rule for a in state.list_alerts(store)] == ["A"]

    rules.write_text(first.replace("name: A", "name: B") + "# changed\n")
    assert job.reload_if_changed()
    job()
    assert {a.rule: a.state for a in state.list_alerts(store)} == {
        "A": AlertState.RESOLVED,
        "B": AlertState.FIRING,
    }

    rules.write_text("rules:\n  - name: C\n    signal: nonsense\n")
    assert not job.reload_if_changed()
    assert "line 3: rules[0].signal" in job.reload_error
    job()  # the previous rules (B) keep running
    assert [r.name for r in job.evaluator.config.rules] == ["B"]
    job.evaluator.close()
