"""``tower users``: the first-run admin command, in a real subprocess on its own embedded store."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx
from support import cli


def tower(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return cli.tower(*args, data_dir=data_dir, stdin=stdin, timeout=120)


def test_add_list_and_refuse_bad_input(tmp_path: Path) -> None:
    added = tower(
        tmp_path,
        "users",
        "add",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin="s3cret-pass-for-the-ops-team\n",
    )
    assert added.returncode == 0, added.stderr
    assert "user admin (admin) saved" in added.stdout
    again = tower(tmp_path, "users", "add", "admin", "--password-stdin", stdin="other-long-password\n")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    short = tower(tmp_path, "users", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    bad_name = tower(tmp_path, "users", "add", "<script>", "--password-stdin", stdin="long-enough-password\n")
    assert bad_name.returncode == 2 and "user name" in bad_name.stderr
    listed = tower(tmp_path, "users", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == ["admin\tadmin\tstore"]


def test_hash_prints_an_argon2_hash_for_the_config(tmp_path: Path) -> None:
    result = tower(tmp_path, "users", "hash", "--password-stdin", stdin="for-the-config\n")
    assert result.returncode == 0
    assert result.stdout.startswith("$argon2id$")


def test_a_disabled_user_cannot_log_in(tmp_path: Path) -> None:
    for name in ("ana", "bob"):
        added = tower(
            tmp_path, "users", "add", name, "--role", "ops", "--password-stdin", stdin="long-enough-pw\n"
        )
        assert added.returncode == 0, added.stderr
    disabled = tower(tmp_path, "users", "disable", "bob")
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == "user bob disabled; 0 session(s) ended\n"
    assert tower(tmp_path, "users", "list").stdout.splitlines() == [
        "ana\tops\tstore",
        "bob\tops\tstore (disabled)",
    ]
    unknown = tower(tmp_path, "users", "disable", "nobody")
    assert unknown.returncode == 2 and "no stored user nobody" in unknown.stderr

    proc = cli.start("serve", "--roles", "web", data_dir=tmp_path, env={"TOWER_WEB__PORT": "0"})
    try:
        url = cli.dashboard_url(proc)
        with httpx.Client(base_url=url, timeout=10) as client:
            for name, status in (("bob", 401), ("ana", 303)):
                form = client.get("/login")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert csrf, form.text[:300]
                login = client.post(
                    "/login",
                    data={
                        "username": name,
                        "password": "long-enough-pw",
                        "csrf_token": csrf.group(1),
                        "next": "/",
                    },
                )
                assert login.status_code == status, (name, login.text[:300])
            assert "Wrong user name or password." not in login.text
            assert client.get("/api/me").json()["name"] == "ana"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
