"""One process per embedded data directory: an advisory lock with the holder's details.

chdb opens one data path per process and fails with an opaque engine error when another process
holds it. The lock turns that into a clear message and tells other commands where the holder's API
is, so that they can ask it instead of failing.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from storage.errors import TowerError

_held: dict[Path, tuple[int, int]] = {}  # path -> (fd, refcount)
_guard = threading.Lock()


class DataDirLocked(TowerError, RuntimeError):
    """Another process holds the data directory."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.path = path
        self.holder = holder
        pid = holder.get("pid", "?")
        command = holder.get("command", "a tower process")
        api = holder.get("api_url")
        hint = (
            f"its API is at {api}; commands that read the store can use it (--api {api})"
            if api
            else "stop it first"
        )
        super().__init__(
            f"the embedded store at {path} is in use by another tower process "
            f"(pid {pid}, {command!r}); {hint}, or point this command at another data dir "
            f"with TOWER_STORAGE__DATA_DIR"
        )


def lock_file(target: Path) -> Path:
    """The lock file guarding ``target`` (a sibling named ``<target>.lock``)."""
    return target.parent / f"{target.name}.lock"


def _parse(lock_path: Path) -> dict[str, Any]:
    try:
        data = json.loads(lock_path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def acquire(target: Path, command: str) -> None:
    """Take the lock on ``target`` for this process (re-entrant within the process)."""
    data_dir = target.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with _guard:
        if data_dir in _held:
            fd, count = _held[data_dir]
            _held[data_dir] = (fd, count + 1)
            return
        lock_path = lock_file(data_dir)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirLocked(data_dir, _parse(lock_path)) from None
        _write(fd, {"pid": os.getpid(), "command": command, "since": time.time()})
        _held[data_dir] = (fd, 1)


def announce(target: Path, **details: Any) -> None:
    """Add details (e.g. ``api_url``) to the lock file this process holds."""
    data_dir = target.resolve()
    with _guard:
        if data_dir not in _held:
            return
        fd = _held[data_dir][0]
        current = _parse(lock_file(data_dir))
        current.update(details)
        _write(fd, current)


def release(target: Path) -> None:
    data_dir = target.resolve()
    with _guard:
        if data_dir not in _held:
            return
        fd, count = _held[data_dir]
        if count > 1:
            _held[data_dir] = (fd, count - 1)
            return
        del _held[data_dir]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write(fd: int, data: dict[str, Any]) -> None:
    payload = json.dumps(data).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, payload, 0)
    os.fsync(fd)
