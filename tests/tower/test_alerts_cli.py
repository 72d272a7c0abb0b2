"""``tower alerts`` as a user runs it (a real subprocess on its own store) and the scheduler job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import cli
from support.receivers import http_recorder
from support.warehouse import stalled_warehouse

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
    params: {age: 30m, lookback: 30d}  # the scheduler judges at the wall clock, days after the anchor
    group_by: [warehouse]
    labels: {severity: critical}
    annotations: {summary: "{{ value|int }} orders waiting at {{ labels.warehouse }}"}
route: {receiver: ops, group_by: [alertname, warehouse], group_wait: 0s}
receivers:
  - name: ops
    webhook_configs: [{url: "URL/hook"}]
    pagerduty_configs: [{routing_key: secret-routing-key}]
"""


# One subprocess (the embedded store allows one data directory per process; tests/ on its path and
# this process's clock in its environment): seed the stalled warehouse, then run the commands through
# the real CLI app and report what each printed.
SESSION = """
import json
from typer.testing import CliRunner
from support.warehouse import T0, stalled_warehouse
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
    env = cli.environment(
        tmp_path / "data",
        TOWER_ALERTS__RULES_FILE=str(rules),
        TOWER_ALERTS__EXTERNAL_URL="https://tower.example.com",
    )
    done = subprocess.run(
        [sys.executable, "-c", SESSION],
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
    result = cli.tower(
        "alerts", "check", data_dir=tmp_path / "d", env={"TOWER_ALERTS__RULES_FILE": str(rules)}
    )
    assert result.returncode == 2
    assert f"invalid alert rules: {rules} line 4: rules[0].for: invalid duration 'soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_scheduler_role_runs_alert_evaluation(store: Store, tmp_path: Path) -> None:
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
