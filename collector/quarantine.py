"""Spans ClickHouse refused, kept aside with their reason: listed, shown and replayed by the operator.

The writer splits a failing insert until only the rows the store refuses are left and moves each of
them here (``<spool>/quarantine/<id>.wal``, a one-record spool segment, plus ``<id>.json`` with the
reason), so that they block nothing. ``tower spool quarantine list|show|replay`` reads this folder
without the store; ``replay`` moves entries back into the spool as new segments, which a running
collector takes in within a second (or the next one at start-up) and inserts again, e.g. after the
operator raised the retention that made the store drop them.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from collector.spool import SUFFIX, read_segment

FOLDER = "quarantine"
_HEADER = struct.Struct("<III")  # the spool's record header: payload length, crc32, rows


@dataclass
class Entry:
    """One quarantined block: usually one span, with why ClickHouse refused it."""

    id: str
    segment: str
    rows: int
    reason: str
    code: int | None
    error: str
    quarantined_at: str
    span_ids: list[str] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Quarantine:
    """The quarantine folder of one spool directory."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.directory = spool_dir / FOLDER

    def add(self, entry: Entry, payload: bytes) -> Path:
        """Write the rows and their reason durably (data first, then the reason)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / f"{entry.id}{SUFFIX}"
        record = _HEADER.pack(len(payload), zlib.crc32(payload), entry.rows) + payload
        _write_durably(data, record)
        _write_durably(self.directory / f"{entry.id}.json", json.dumps(entry.as_dict(), indent=2).encode())
        return data

    def entries(self) -> list[Entry]:
        """Every entry, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob("*.json"):
            try:
                found.append(Entry(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue  # half-written or foreign file: list what can be read
        found.sort(key=lambda entry: (entry.quarantined_at, entry.id))
        return found

    def rows(self) -> int:
        return sum(entry.rows for entry in self.entries())

    def get(self, entry_id: str) -> Entry:
        path = self.directory / f"{_safe_id(entry_id)}.json"
        try:
            return Entry(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise KeyError(entry_id) from None

    def payloads(self, entry_id: str) -> list[bytes]:
        """The quarantined insert blocks of an entry."""
        payloads, _rows = read_segment(self.directory / f"{_safe_id(entry_id)}{SUFFIX}")
        return [bytes(p) for p in payloads]

    def replay(self, entry_id: str) -> Path:
        """Move an entry back into the spool as a new sealed segment; returns its path."""
        safe = _safe_id(entry_id)
        source = self.directory / f"{safe}{SUFFIX}"
        if not source.exists():
            raise KeyError(entry_id)
        target = self.spool_dir / f"{time.time_ns():020d}-replay-{safe[-40:]}{SUFFIX}"
        os.rename(source, target)  # atomic: a running spool sees the whole segment or none of it
        _fsync_dir(self.spool_dir)
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{safe}.json").unlink()
        return target


def _safe_id(entry_id: str) -> str:
    if not entry_id or "/" in entry_id or entry_id.startswith(".") or "\x00" in entry_id:
        raise KeyError(entry_id)
    return entry_id


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
