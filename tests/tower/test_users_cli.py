"""``tower users``: the first-run admin command, in a real subprocess on its own embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def tower(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOWER_STORAGE__DATA_DIR": str(data_dir)}
    env.pop("TOWER_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tower", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


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
