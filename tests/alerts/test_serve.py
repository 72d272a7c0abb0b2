"""End to end: ``tower serve --roles scheduler`` with a rules file evaluates and notifies by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from alert_receivers import http_recorder

RULES = """
rules:
  - name: NoEdiTraffic
    signal: span_count
    params: {window: 1h}
    filters: {system_kind: [edi]}
    op: "<"
    threshold: 1
    no_data: alerting
    interval: 1s
    labels: {severity: warning}
    annotations: {summary: no EDI traffic in the last hour}
route: {receiver: hook, group_wait: 0s}
receivers: [{name: hook, webhook_configs: [{url: "URL/alerts"}]}]
"""


def test_serve_runs_alert_evaluation_and_notifies(tmp_path: Path) -> None:
    with http_recorder() as hook:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("URL", hook.url))
        env = {
            **os.environ,
            "TOWER_STORAGE__DATA_DIR": str(tmp_path / "data"),
            "TOWER_ALERTS__RULES_FILE": str(rules),
            "TOWER_ALERTS__ALLOW_PRIVATE_TARGETS": "true",
            "TOWER_ALERTS__TICK_S": "1",
            "TOWER_ALERTS__EXTERNAL_URL": "https://tower.example.com",
            "TOWER_KPIS__ENABLED": "false",
        }
        env.pop("TOWER_CONFIG", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tower.cli", "serve", "--roles", "scheduler"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 90
            while not hook.requests and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            time.sleep(3)  # three more ticks: the alert keeps firing, nothing new is sent
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, stderr = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, stderr = proc.communicate()
    assert hook.requests, f"no notification; tower serve said: {stderr[-2000:]}"
    body = hook.requests[0].json()
    assert body["status"] == "firing" and body["receiver"] == "hook"
    assert body["commonLabels"] == {
        "alertname": "NoEdiTraffic",
        "alert_reason": "no_data",
        "severity": "warning",
    }
    assert body["alerts"][0]["annotations"] == {"summary": "no EDI traffic in the last hour"}
    assert body["alerts"][0]["generatorURL"].startswith("https://tower.example.com/alerts?fingerprint=")
    assert len(hook.requests) == 1
