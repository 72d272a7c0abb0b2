"""A second process on an embedded data dir gets one clear message, not a chdb stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import cli

HOLDER = """
import sys, time
from storage import StorageSettings, open_store
store = open_store(StorageSettings(data_dir=sys.argv[1]), command="tower serve (test holder)")
print("ready", flush=True)
sys.stdin.read()
"""


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env["TOWER_STORAGE__DATA_DIR"] = str(data_dir)
    return env


def test_second_process_is_told_who_holds_the_store(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        second = cli.tower("migrate", data_dir=tmp_path, timeout=60)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        message = lines[0]
        assert str(tmp_path / "clickhouse") in message
        assert "in use by another tower process" in message
        assert f"pid {holder.pid}" in message
        assert "TOWER_STORAGE__DATA_DIR" in message
        assert "Traceback" not in second.stderr
    finally:
        holder.communicate("", timeout=30)
    # once the holder is gone the store opens again
    again = cli.tower("migrate", data_dir=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "applied" in again.stdout


def test_migrate_on_a_fresh_data_dir_then_again(tmp_path: Path) -> None:
    first = cli.tower("migrate", data_dir=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout and "0001_otel_traces" in first.stdout
    second = cli.tower("migrate", data_dir=tmp_path, timeout=60)
    assert second.returncode == 0
    assert "up to date" in second.stdout
