"""``tower users``: the first-run admin command. The first user is added as an operator does it before
the first ``tower serve`` — a real subprocess on its own embedded store; the refusals, ``disable`` and
``hash`` run through the same CLI app in this process on the test's database (one engine per process)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from support import cli

from kpis.policy import load_policy
from storage import Store
from web import create_app
from web.settings import WebSettings


def _run(store: Store, *args: str, stdin: str | None = None) -> Any:
    return cli.invoke(*args, env=cli.store_env(store), input=stdin)


def test_the_first_admin_is_added_to_a_new_store_by_a_real_process(tmp_path: Path) -> None:
    added = cli.tower(
        "users", "add", "admin", "--role", "admin", "--password-stdin",
        data_dir=tmp_path, stdin="s3cret-pass-for-the-ops-team\n", timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "user admin (admin) saved" in added.stdout
    listed = cli.tower("users", "list", data_dir=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["admin\tadmin\tstore"]


def test_bad_input_is_refused_with_the_reason(store: Store) -> None:
    added = _run(
        store, "users", "add", "admin", "--role", "admin", "--password-stdin", stdin="long-enough-pw\n"
    )
    assert added.exit_code == 0, added.stderr
    again = _run(store, "users", "add", "admin", "--password-stdin", stdin="other-long-password\n")
    assert again.exit_code == 2 and "already exists" in again.stderr
    short = _run(store, "users", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.stderr
    bad_name = _run(store, "users", "add", "<script>", "--password-stdin", stdin="long-enough-password\n")
    assert bad_name.exit_code == 2 and "user name" in bad_name.stderr
    assert _run(store, "users", "list").stdout.splitlines() == ["admin\tadmin\tstore"]


def test_hash_prints_an_argon2_hash_for_the_config(store: Store) -> None:
    result = _run(store, "users", "hash", "--password-stdin", stdin="for-the-config\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("$argon2id$")


def test_a_disabled_user_cannot_log_in(store: Store) -> None:
    for name in ("ana", "bob"):
        added = _run(
            store, "users", "add", name, "--role", "ops", "--password-stdin", stdin="long-enough-pw\n"
        )
        assert added.exit_code == 0, added.stderr
    disabled = _run(store, "users", "disable", "bob")
    assert disabled.exit_code == 0, disabled.stderr
    assert disabled.stdout == "user bob disabled; 0 session(s) ended\n"
    assert _run(store, "users", "list").stdout.splitlines() == [
        "ana\tops\tstore",
        "bob\tops\tstore (disabled)",
    ]
    unknown = _run(store, "users", "disable", "nobody")
    assert unknown.exit_code == 2 and "no stored user nobody" in unknown.stderr

    settings = WebSettings(secret_key="test-secret-key-0123456789-abcdefghijklmnop")
    with TestClient(create_app(settings, store, policy=load_policy())) as client:
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
                follow_redirects=False,
            )
            assert login.status_code == status, (name, login.text[:300])
        assert client.get("/api/me").json()["name"] == "ana"
