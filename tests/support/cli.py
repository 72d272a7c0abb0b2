"""The ``tower`` command as a user runs it: ``python -m tower ...`` in a subprocess, or the same typer
app in this process (``invoke``) where a test must share the process's embedded store.

The child's environment is this process's without any ``TOWER_*`` setting (a developer's own
configuration must not leak in), plus the tests' clock (``TOWER_TEST_NOW``, so a helper script run by
the child anchors its data where this process does), the project and ``tests/`` on ``PYTHONPATH`` (the
project first: ``tests/collector`` and its siblings would otherwise shadow the real packages as namespace
packages wherever the tower is installed in editable mode) and a wide terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clock import ANCHOR

if TYPE_CHECKING:
    from storage import Store

TESTS = Path(__file__).resolve().parents[1]
PROJECT = TESTS.parent


def environment(data_dir: Path | None = None, **overrides: str) -> dict[str, str]:
    """The environment of a ``tower`` child process; ``overrides`` win (``TOWER_...`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env["TOWER_TEST_NOW"] = ANCHOR.isoformat()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT), env.get("PYTHONPATH", ""), str(TESTS)) if p)
    env["COLUMNS"] = "200"
    if data_dir is not None:
        env["TOWER_STORAGE__DATA_DIR"] = str(data_dir)
    env.update(overrides)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tower", *args]


def tower(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 240,
    cwd: Path | None = None,
    argv: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``tower *args`` to completion. ``env`` adds variables; ``argv`` replaces ``-m tower``."""
    return subprocess.run(
        [sys.executable, *argv, *args] if argv else command(*args),
        env=environment(data_dir, **(env or {})),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def start(
    *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None, new_session: bool = False
) -> subprocess.Popen[str]:
    """Start a long-running ``tower *args`` (``serve``, ``demo``); the caller stops it. ``new_session``:
    in its own process group, so ``os.killpg`` reaches the processes it starts (receivers) at once."""
    return subprocess.Popen(
        command(*args),
        env=environment(data_dir, **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def store_env(store: Store) -> dict[str, str]:
    """The settings that point an in-process ``invoke`` at ``store``'s database (the pytest process's
    engine, shared: chdb opens one data path per process), with no config file or API token."""
    settings = store.settings
    env = {
        "TOWER_STORAGE__DATA_DIR": str(settings.data_dir),
        "TOWER_STORAGE__DATABASE": store.database,
        "TOWER_CONFIG": "",
        "TOWER_API_TOKEN": "",
    }
    if settings.dsn is not None:
        env["TOWER_STORAGE__DSN"] = settings.dsn.get_secret_value()
    if settings.cluster:
        env["TOWER_STORAGE__CLUSTER"] = settings.cluster
    return env


def invoke(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Run ``tower *args`` through the real typer app in this process (``click.testing.Result``)."""
    from typer.testing import CliRunner

    from tower.cli import app

    return CliRunner().invoke(app, list(args), env=env, **kwargs)


DASHBOARD = re.compile(r"dashboard at (http://127\.0\.0\.1:\d+)")


def dashboard_url(proc: subprocess.Popen[str]) -> str:
    """The URL a started ``tower serve`` logs once its web role listens (it binds port 0 itself when
    ``TOWER_WEB__PORT=0``, so no port is guessed free). Reads the process's stderr up to that line."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # ends when the process exits
        seen.append(line)
        if match := DASHBOARD.search(line):
            return match.group(1)
    raise AssertionError("tower serve exited before it listened:\n" + "".join(seen[-40:]))
