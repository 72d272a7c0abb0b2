"""Durable agent state kept in files under the data directory: ledgers, seen ids, cursors.

SQLite (stdlib) gives atomic, crash-safe updates for the sets; the poller cursor is a small JSON
file replaced atomically (write temp, fsync, rename).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON so a crash leaves the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Db:
    def __init__(self, path: Path, *ddl: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        for statement in ddl:
            self._conn.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _name(name: str) -> str:
    """A file name as SQLite text (names that are not UTF-8 keep their bytes as escapes)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


class FileLedger(_Db):
    """Processed files by name, size and sha256: a file already recorded is never processed again.

    ``progress`` remembers how many chunks of a large file the collector acknowledged, so a file
    interrupted half-way resumes where it stopped (the chunks are the same: ids derive from the
    content).
    """

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            "CREATE TABLE IF NOT EXISTS processed (name TEXT NOT NULL, size INTEGER NOT NULL, "
            "sha256 TEXT NOT NULL, outcome TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (name, size, sha256))",
            "CREATE TABLE IF NOT EXISTS progress (sha256 TEXT PRIMARY KEY, chunks INTEGER NOT NULL, "
            "at REAL NOT NULL)",
        )

    def seen(self, name: str, size: int, sha256: str) -> bool:
        """True when this exact file was processed (quarantined files are examined again)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM processed WHERE name = ? AND size = ? AND sha256 = ? AND outcome = 'processed'",
                (_name(name), size, sha256),
            ).fetchone()
        return row is not None

    def record(self, name: str, size: int, sha256: str, outcome: str) -> None:
        self.record_many([(name, size, sha256)], outcome)

    def record_many(self, files: list[tuple[str, int, str]], outcome: str) -> None:
        """Record (name, size, sha256) of several files in one transaction (one fsync)."""
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO processed VALUES (?, ?, ?, ?, ?)",
                    [(_name(name), size, sha256, outcome, now) for name, size, sha256 in files],
                )
                self._conn.executemany("DELETE FROM progress WHERE sha256 = ?", [(f[2],) for f in files])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def chunks_done(self, sha256: str) -> int:
        """Chunks of this content the collector already acknowledged (0 when none)."""
        with self._lock:
            row = self._conn.execute("SELECT chunks FROM progress WHERE sha256 = ?", (sha256,)).fetchone()
        return int(row[0]) if row else 0

    def chunk_done(self, sha256: str, chunks: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO progress VALUES (?, ?, ?)", (sha256, chunks, time.time())
            )

    def forget_progress(self, sha256: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM progress WHERE sha256 = ?", (sha256,))

    def count(self, outcome: str = "processed") -> int:
        with self._lock:
            row = self._conn.execute("SELECT count() FROM processed WHERE outcome = ?", (outcome,)).fetchone()
            return int(row[0])


class SeenIds(_Db):
    """Ids already accepted (webhook ids, event ids), each kept ``retention_s`` after it was seen.

    Durable (SQLite, fsync'd): a replay within the retention is recognised after a restart too.
    ``clock`` (epoch seconds) is injected for tests.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(
            path,
            "CREATE TABLE IF NOT EXISTS seen_ids (id TEXT PRIMARY KEY, at REAL NOT NULL, "
            "keep_until REAL NOT NULL)",
            "CREATE INDEX IF NOT EXISTS seen_ids_keep_until ON seen_ids (keep_until)",
        )
        self.clock = clock
        self._added = 0

    def __contains__(self, key: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM seen_ids WHERE id = ? AND keep_until >= ?", (key, self.clock())
            ).fetchone()
        return row is not None

    def add(self, *keys: str, retention_s: float) -> None:
        """Remember ``keys`` for ``retention_s`` (all in one transaction)."""
        now = self.clock()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for key in keys:
                    self._conn.execute(
                        "INSERT INTO seen_ids VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                        "keep_until = max(keep_until, excluded.keep_until)",
                        (key, now, now + retention_s),
                    )
                self._added += 1
                if self._added % 1000 == 1:  # forget expired ids now and then
                    self._conn.execute("DELETE FROM seen_ids WHERE keep_until < ?", (now,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT count() FROM seen_ids WHERE keep_until >= ?", (self.clock(),))
            return int(row.fetchone()[0])


class OpenKeys(_Db):
    """Keys with something open (e.g. tracking numbers with an open carrier exception)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            path, "CREATE TABLE IF NOT EXISTS open_keys (key TEXT PRIMARY KEY, at REAL NOT NULL)"
        )

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM open_keys WHERE key = ?", (key,)).fetchone() is not None

    def add(self, key: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO open_keys VALUES (?, ?)", (key, time.time()))

    def discard(self, key: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM open_keys WHERE key = ?", (key,))
