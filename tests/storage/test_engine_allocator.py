"""The embedded engine's allocator returns freed pages after 1 s (jemalloc's dirty_decay_ms; 5 s compiled in):
set before the engine loads, unless the operator set JE_MALLOC_CONF themselves."""

import os
import subprocess
import sys
from pathlib import Path

from storage.client import ENGINE_ALLOCATOR_CONF

SCRIPT = """
import os, sys
from storage import StorageSettings, open_store
store = open_store(StorageSettings(data_dir=sys.argv[1]), database="default")
print(store.scalar("SELECT 1"), os.environ.get("JE_MALLOC_CONF"))
"""


def _run(tmp_path: Path, env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")


def test_the_embedded_engine_keeps_freed_pages_one_second_unless_the_operator_says_otherwise(
    tmp_path: Path,
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "JE_MALLOC_CONF"}
    lines = _run(tmp_path / "default", env)
    assert lines[0] == f"1 {ENGINE_ALLOCATOR_CONF}"
    # an operator's own allocator options win over the tower's
    lines = _run(tmp_path / "own", {**env, "JE_MALLOC_CONF": "dirty_decay_ms:3000"})
    assert lines[0] == "1 dirty_decay_ms:3000"
