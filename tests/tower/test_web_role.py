"""`tower serve --roles web`: the dashboard served by the real process, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_web_role_answers_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TOWER_STORAGE__DATA_DIR": str(tmp_path),
        "TOWER_WEB__PORT": str(port),
    }
    env.pop("TOWER_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tower", "serve", "--roles", "web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, proc.stderr.read() if proc.poll() is not None else "no answer in 60 s"
        assert health.json()["status"] == "ok"
        login = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert login.status_code == 303 and login.headers["location"].startswith("/login")
        # the session key was generated once and kept private in the data dir
        key = tmp_path / "web_secret_key"
        assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, proc.stderr.read()
