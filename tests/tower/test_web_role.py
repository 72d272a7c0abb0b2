"""`tower serve --roles web`: the dashboard served by the real process, stopped cleanly by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
from support import cli


def test_serve_web_role_answers_and_stops(tmp_path: Path) -> None:
    proc = cli.start("serve", "--roles", "web", data_dir=tmp_path, env={"TOWER_WEB__PORT": "0"})
    try:
        url = cli.dashboard_url(proc)
        health = httpx.get(f"{url}/healthz", timeout=5)
        assert health.json()["status"] == "ok"
        login = httpx.get(f"{url}/", timeout=5)
        assert login.status_code == 303 and login.headers["location"].startswith("/login")
        # the session key was generated once and kept private in the data dir
        key = tmp_path / "web_secret_key"
        assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, stderr
