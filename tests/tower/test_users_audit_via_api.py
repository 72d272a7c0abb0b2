"""``tower users signout`` and ``tower audit`` while a real ``tower serve`` holds the embedded store.

The store is locked by the serving process, so both commands find its API in the lock file and ask
it with an admin token; the signed-out user's browser session ends at once, and the audit log read
through the API shows the sign-out and the logins that came before it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import cli

PASSWORD = "a quiet harbour at dawn"


def tower(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return cli.tower(*args, data_dir=data_dir, stdin=stdin, timeout=120)


def log_in(client: httpx.Client, username: str) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text[:300]
    done = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1), "next": "/"},
    )
    assert done.status_code == 303, (username, done.text[:300])


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A data directory with an admin and an ops user, held by a running ``tower serve --roles web``."""
    for name, role in (("boss", "admin"), ("otto", "ops")):
        added = tower(
            tmp_path, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert added.returncode == 0, added.stderr
    proc = cli.start("serve", "--roles", "web", data_dir=tmp_path, env={"TOWER_WEB__PORT": "0"})
    try:
        yield tmp_path, cli.dashboard_url(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_signout_and_audit_go_through_the_serving_api(serving: tuple[Path, str]) -> None:
    data_dir, url = serving
    with httpx.Client(base_url=url, timeout=10) as otto, httpx.Client(base_url=url, timeout=10) as boss:
        log_in(otto, "otto")
        assert otto.get("/api/me").json()["name"] == "otto"
        log_in(boss, "boss")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', boss.get("/admin").text)
        assert csrf
        made = boss.post(
            "/api/tokens", json={"name": "ops-cli", "role": "admin"}, headers={"X-CSRF-Token": csrf.group(1)}
        )
        assert made.status_code == 201, made.text
        token = made.json()["token"]

        # the store is held: without a token the command says so in one line and changes nothing
        refused = tower(data_dir, "users", "signout", "otto")
        assert refused.returncode == 2
        assert f"the tower API at {url} answered 401" in refused.stderr and "--token" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert otto.get("/api/me").status_code == 200

        done = tower(data_dir, "users", "signout", "otto", "--token", token)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "user otto signed out everywhere; 1 session(s) ended\n"
        assert otto.get("/api/me").status_code == 401  # the browser's session ended at once
        assert boss.get("/api/me").status_code == 200  # nobody else's did

        missing = tower(data_dir, "users", "signout", "nobody", "--token", token)
        assert missing.returncode == 2 and "answered 404" in missing.stderr

    listed = tower(data_dir, "audit", "--json", "--token", token)
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)["events"]
    signouts = [e for e in events if e["action"] == "user.signout" and e["outcome"] == "ok"]
    assert [(e["actor"], e["target"], e["details"]) for e in signouts] == [
        ("token:ops-cli", "otto", {"sessions_ended": 1})
    ]
    logins = {(e["actor"], e["outcome"]) for e in events if e["action"] == "login"}
    assert {("otto", "ok"), ("boss", "ok")} <= logins
    assert any(e["action"] == "token.create" and e["actor"] == "boss" for e in events)

    text = tower(data_dir, "audit", "--action", "user.signout", "--token", token)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert len(lines) == 1 and " ok     token:ops-cli user.signout otto " in lines[0], lines
    assert "sessions_ended=1" in lines[0]

    no_token = tower(data_dir, "audit")
    assert no_token.returncode == 2 and "answered 401" in no_token.stderr
