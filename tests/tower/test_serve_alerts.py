"""End to end: ``tower serve`` with a rules file evaluates and notifies by itself (the scheduler role),
and keeps quiet about an alert it already sent while it goes on ticking (seen on its web role)."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
from support import cli
from support.receivers import http_recorder

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
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DASHBOARD = re.compile(r"dashboard at (http://127\.0\.0\.1:\d+)")


def _until(condition, timeout: float, proc: subprocess.Popen[str]):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something truthy (its value) or the deadline passes (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if found := condition():
            return found
        time.sleep(0.2)
    return None


def _alert_runs(client: httpx.Client) -> list[dict]:  # type: ignore[type-arg]
    runs = client.get("/api/jobs", params={"job": "alerts_evaluate", "limit": 500}).json()["runs"]
    return [r for r in runs if r["status"] == "ok"]


def test_serve_runs_alert_evaluation_and_notifies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = cli.tower(
        "users", "add", "vera", "--role", "viewer", "--password-stdin", data_dir=data, stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    with http_recorder() as hook:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("URL", hook.url))
        proc = cli.start(
            "serve",
            "--roles",
            "scheduler,web",
            data_dir=data,
            env={
                "TOWER_ALERTS__RULES_FILE": str(rules),
                "TOWER_ALERTS__ALLOW_PRIVATE_TARGETS": "true",
                "TOWER_ALERTS__TICK_S": "1",
                "TOWER_ALERTS__EXTERNAL_URL": "https://tower.example.com",
                "TOWER_KPIS__ENABLED": "false",
                "TOWER_WEB__PORT": "0",
            },
        )
        log: list[str] = []
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: log.extend(iter(proc.stderr.readline, "")), daemon=True)
        reader.start()
        try:
            url = _until(
                lambda: next((m.group(1) for line in log if (m := DASHBOARD.search(line))), None), 90, proc
            )
            assert url, "tower serve did not start its web role:\n" + "".join(log[-40:])
            with httpx.Client(base_url=url, timeout=10) as client:
                form = client.get("/login")
                token = CSRF.search(form.text)
                assert token, form.text[:500]
                login = client.post(
                    "/login",
                    data={
                        "username": "vera",
                        "password": PASSWORD,
                        "csrf_token": token.group(1),
                        "next": "/",
                    },
                )
                assert login.status_code == 303, login.text[:500]
                assert _until(lambda: hook.requests, 90, proc), "no notification:\n" + "".join(log[-40:])
                # three more evaluations after the notification: the alert keeps firing, nothing new is sent
                ticks = len(_alert_runs(client))
                later = _until(lambda: len(_alert_runs(client)) >= ticks + 3, 60, proc)
                assert later, f"the alert job stopped ticking after {ticks} runs:\n" + "".join(log[-40:])
                assert len(hook.requests) == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join(timeout=10)
    assert proc.returncode == 0, "".join(log[-40:])
    body = hook.requests[0].json()
    assert body["status"] == "firing" and body["receiver"] == "hook"
    assert body["commonLabels"] == {
        "alertname": "NoEdiTraffic",
        "alert_reason": "no_data",
        "severity": "warning",
    }
    assert body["alerts"][0]["annotations"] == {"summary": "no EDI traffic in the last hour"}
    assert body["alerts"][0]["generatorURL"].startswith("https://tower.example.com/alerts?fingerprint=")
