"""``tower alerts`` as a user runs it (a real subprocess on its own store) and the scheduler job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alert_receivers import http_recorder
from alert_scenario import T0

from alerts import state
from alerts.model import AlertState
from kpis.policy import load_policy
from storage import Store
from tower.scheduling import build_scheduler
from tower.settings import load_settings

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


def tower(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tower.cli", *args], env=env, capture_output=True, text=True, timeout=180
    )


# One subprocess (the embedded store allows one data directory per process): seed the stalled
# warehouse, then run the commands through the real CLI app and report what each printed.
SESSION = """
import json, sys
sys.path.insert(0, sys.argv[1])
from typer.testing import CliRunner
from alert_scenario import T0, stalled_warehouse
from tower.cli import app
from tower.runtime import store_or_exit
from tower.settings import load_settings
with store_or_exit(load_settings(), "seed") as store:
    stalled_warehouse(store)
runner = CliRunner()
out = {}
for name, args in [
    ("test", ["alerts", "test", "WarehouseStalled", "--at", T0.isoformat(), "--json"]),
    ("text", ["alerts", "test", "WarehouseStalled", "--at", T0.isoformat()]),
    ("unknown", ["alerts", "test", "Nope"]),
    ("list", ["alerts", "list", "--json"]),
    ("log", ["alerts", "log"]),
    ("silence", ["alerts", "silence", "add", 'warehouse="wh-2"', "--author", "ana", "--comment", "patching",
                 "--duration", "2h"]),
    ("silences", ["alerts", "silence", "list", "--json"]),
]:
    result = runner.invoke(app, args)
    out[name] = {"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
print(json.dumps(out))
"""


def test_alerts_commands_on_their_own_store(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("URL", "https://hooks.example.com"))
    env = {
        **os.environ,
        "TOWER_STORAGE__DATA_DIR": str(tmp_path / "data"),
        "TOWER_ALERTS__RULES_FILE": str(rules),
        "TOWER_ALERTS__EXTERNAL_URL": "https://tower.example.com",
    }
    env.pop("TOWER_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(Path(__file__).parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["test"]["code"] == 0, out["test"]["stderr"]
    preview = json.loads(out["test"]["stdout"])
    assert [(s["group"], s["value"]) for s in preview["samples"]] == [({"warehouse": "wh-2"}, 3.0)]
    [alert] = preview["alerts"]
    assert alert["labels"] == {"alertname": "WarehouseStalled", "severity": "critical", "warehouse": "wh-2"}
    assert alert["annotations"] == {"summary": "3 orders waiting at wh-2"}
    webhook, pagerduty = preview["notifications"]
    assert webhook["integration"] == "webhook[0]"
    assert webhook["payload"]["groupKey"] == '{}:{alertname="WarehouseStalled", warehouse="wh-2"}'
    assert webhook["payload"]["externalURL"] == "https://tower.example.com"
    assert [e["event_action"] for e in pagerduty["payload"]] == ["trigger"]
    assert "secret-routing-key" not in out["test"]["stdout"] + out["text"]["stdout"]

    text = out["text"]["stdout"].splitlines()
    assert text[0].endswith(": 1 group(s), 1 over the threshold")
    assert text[1] == "  ALERT {'warehouse': 'wh-2'} value=3 orders=3"
    assert text[2] == "would send to ops/webhook[0]:"

    assert out["unknown"]["code"] == 2
    assert "no rule named 'Nope'; rules: WarehouseStalled" in out["unknown"]["stderr"]
    assert json.loads(out["list"]["stdout"])["alerts"] == []  # a rule test stores nothing ...
    assert out["log"]["stdout"] == "no notifications\n"  # ... and sends nothing

    assert out["silence"]["code"] == 0, out["silence"]["stderr"]
    [silence] = json.loads(out["silences"]["stdout"])
    assert (silence["matchers"], silence["created_by"], silence["comment"]) == (
        ['warehouse="wh-2"'],
        "ana",
        "patching",
    )


def test_alerts_check_reports_line_and_field(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: A\n    signal: system_quiet\n    for: soon\n")
    env = {
        **os.environ,
        "TOWER_ALERTS__RULES_FILE": str(rules),
        "TOWER_STORAGE__DATA_DIR": str(tmp_path / "d"),
    }
    result = tower("alerts", "check", env=env)
    assert result.returncode == 2
    assert f"invalid alert rules: {rules} line 4: rules[0].for: invalid duration 'soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_scheduler_role_runs_alert_evaluation(store: Store, tmp_path: Path) -> None:
    from alert_scenario import stalled_warehouse

    stalled_warehouse(store)
    with http_recorder() as hook:
        rules = tmp_path / "rules.yaml"
        rules.write_text(
            RULES.replace("URL", hook.url).replace(
                "    pagerduty_configs: [{routing_key: secret-routing-key}]\n", ""
            )
        )
        settings = load_settings(
            alerts={"rules_file": str(rules), "allow_private_targets": True},
            kpis={"enabled": False},
        )
        scheduler = build_scheduler(settings, store, load_policy())
        assert "alerts_evaluate" in scheduler.jobs()
        result = scheduler.run_now("alerts_evaluate")
        assert (result.status, result.error) == ("ok", "")
        assert result.rows == 3  # inactive -> pending -> firing (for: 0), and one notification sent
    [alert] = state.list_alerts(store)
    assert alert.state is AlertState.FIRING
    assert len(hook.requests) == 1


def test_a_rule_test_stores_and_sends_nothing(store: Store, tmp_path: Path) -> None:
    from alert_scenario import stalled_warehouse

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
