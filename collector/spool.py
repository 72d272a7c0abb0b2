"""Write-ahead spool: a request is acknowledged once its block is appended and fsynced here.

Blocks go to numbered segment files (``<time_ns>-<run>-<n>.open``) as records ``[length, crc32,
rows][payload]``. One thread appends and fsyncs for every waiting request at once (group commit).
A segment is sealed (renamed to ``.wal``) when it holds ``batch_max_rows`` rows or is
``flush_interval_s`` old; sealed segments are handed to the store writer, which inserts each as one
batch with the segment's name as ``insert_deduplication_token`` and then deletes it. After a crash
every segment on disk is sealed and replayed; a torn tail record (never acknowledged) is ignored.
Replaying a segment that was already inserted is harmless: ClickHouse drops the batch by its token.
Sealed segments put into the directory from outside (``tower spool quarantine replay``) are taken
in while the spool runs.

A receiver process's spool (``handed_off``) also seals its active segment as soon as the writer (in
another process) has stored every segment it sealed before: an idle writer gets a lone request at
once, while a busy writer's next batch grows with what arrives during its insert.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from storage.errors import TowerError

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<III")  # payload length, crc32 of payload, rows
SUFFIX = ".wal"  # a sealed segment, ready for the writer
OPEN_SUFFIX = ".open"  # the segment being appended to
# A receiver's spool holding unsealed spans looks this often whether the writer has taken the rest.
IDLE_SEAL_POLL_S = 0.02


class SpoolFull(TowerError, RuntimeError):
    """The spool holds ``max_bytes`` not yet written to the store."""


class SpoolClosed(TowerError, RuntimeError):
    """The spool is stopping."""


@dataclass(frozen=True)
class Segment:
    path: Path
    rows: int
    size: int

    @property
    def token(self) -> str:
        """Deduplication token of the segment's batch: its unique file name."""
        return self.path.stem

    @property
    def created_ns(self) -> int:
        """When the segment's first block was appended (its name starts with that Unix time in ns)."""
        head = self.path.name.split("-", 1)[0]
        if head.isdigit():
            return int(head)
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return time.time_ns()


@dataclass
class _Append:
    payload: bytes
    rows: int
    future: Future[None]


def read_segment(path: Path) -> tuple[list[memoryview], int]:
    """The intact records of a segment file and their row count (stops at a torn tail).

    The records are views into one buffer holding the file (no copy per record).
    """
    data = memoryview(path.read_bytes())
    payloads: list[memoryview] = []
    rows = 0
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc, count = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        payload = data[start : start + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            log.warning(
                "spool segment %s: ignoring torn record at byte %d (never acknowledged)", path, offset
            )
            break
        payloads.append(payload)
        rows += count
        offset = start + length
    return payloads, rows


class Spool:
    """Durable append-only queue of insert blocks between the receivers and the store writer."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_max_rows: int,
        flush_interval_s: float,
        segment_max_bytes: int = 64 * 1024 * 1024,
        handed_off: bool = False,
    ) -> None:
        """``handed_off``: a receiver process's spool; its sealed segments are inserted (and deleted)
        by the writer in another process, and what is pending is known by which files still exist."""
        self.directory = directory
        self.handed_off = handed_off
        self._handed: list[Segment] = []
        self.max_bytes = max_bytes
        self.segment_max_rows = segment_max_rows
        self.segment_max_bytes = segment_max_bytes
        self.rescan_s = 1.0
        self.flush_interval_s = flush_interval_s
        self._run = uuid.uuid4().hex[:12]
        self._counter = 0
        self._queue: queue.Queue[_Append | None] = queue.Queue()
        self._sealed: deque[Segment] = deque()
        self._cond = threading.Condition()
        self._pending_bytes = 0  # appended or queued, not yet written to the store
        self._pending_rows = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._fd: int | None = None
        self._active: Path | None = None
        self._active_rows = 0
        self._active_size = 0
        self._active_since = 0.0
        self._active_created_ns = 0
        self._last_scan = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> list[Segment]:
        """Create the directory, recover segments left by an earlier run; start the append thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.glob(f"*{OPEN_SUFFIX}"):  # appended to when a run ended: seal it
            path.rename(path.with_suffix(SUFFIX))
        _fsync_dir(self.directory)
        if self.handed_off:  # sealed by an earlier receiver here, not yet written: still pending
            recovered = []
            for path in sorted(self.directory.glob(f"*{SUFFIX}")):
                with contextlib.suppress(FileNotFoundError):
                    _payloads, rows = read_segment(path)
                    self._handed.append(Segment(path, rows, path.stat().st_size))
            with self._cond:
                self._pending_bytes += sum(segment.size for segment in self._handed)
                self._pending_rows += sum(segment.rows for segment in self._handed)
        else:
            recovered = self.adopt_new()
        if recovered:
            log.info(
                "spool: replaying %d segment(s), %d rows from %s",
                len(recovered),
                sum(s.rows for s in recovered),
                self.directory,
            )
        self._thread = threading.Thread(target=self._append_loop, name="collector-spool", daemon=True)
        self._thread.start()
        return recovered

    def adopt_new(self) -> list[Segment]:
        """Take in segment files that appeared in the directory (left by an earlier run, or put back
        by ``tower spool quarantine replay``); returns them. The active segment is never adopted."""
        with self._cond:
            known = {segment.path.name for segment in self._sealed}
        found = []
        paths = [*self.directory.glob(f"*{SUFFIX}"), *self.directory.glob(f"r*/*{SUFFIX}")]
        for path in sorted(paths, key=lambda p: p.name):
            if path.name in known:
                continue
            try:
                _payloads, rows = read_segment(path)
                size = path.stat().st_size
            except FileNotFoundError:  # released meanwhile
                continue
            if rows == 0:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            found.append(Segment(path, rows, size))
        with self._cond:
            known = {segment.path.name for segment in self._sealed}
            found = [segment for segment in found if segment.path.name not in known]
            for segment in found:
                self._sealed.append(segment)
                self._pending_bytes += segment.size
                self._pending_rows += segment.rows
            if found:
                self._cond.notify_all()
        return found

    def seal_leftovers(self) -> int:
        """Seal the segments receiver processes were appending to when they ended (``r*/*.open``);
        call before receivers start. Returns how many."""
        count = 0
        for path in self.directory.glob(f"r*/*{OPEN_SUFFIX}"):
            path.rename(path.with_suffix(SUFFIX))
            _fsync_dir(path.parent)
            count += 1
        return count

    def _writer_took_all(self) -> bool:
        """Receiver side: the writer has stored every segment this spool sealed (it is not behind)."""
        with self._cond:
            oldest = self._handed[0] if self._handed else None
        if oldest is None:
            return True
        if oldest.path.exists():  # the writer takes segments oldest first: it is still behind
            return False
        self._refresh_handed()
        with self._cond:
            return not self._handed

    def _refresh_handed(self) -> None:
        """Receiver side: segments the writer deleted are no longer pending."""
        if not self.handed_off:
            return
        with self._cond:
            handed = list(self._handed)
        gone = [segment for segment in handed if not segment.path.exists()]
        if gone:
            with self._cond:
                for segment in gone:
                    self._handed.remove(segment)
                    self._pending_bytes -= segment.size
                    self._pending_rows -= segment.rows
                self._cond.notify_all()

    def oldest_pending_ns(self) -> int | None:
        """When the oldest block not yet in the store was appended (None when nothing waits)."""
        self._refresh_handed()
        with self._cond:
            times = [segment.created_ns for segment in (*self._sealed, *self._handed)]
            if self._active is not None and self._active_rows:
                times.append(self._active_created_ns)
            if not times and self._pending_rows > 0:
                return time.time_ns()  # queued for the append thread right now
        return min(times) if times else None

    def close(self) -> None:
        """Stop accepting, finish queued appends, seal the active segment."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._cond:
            self._cond.notify_all()

    # -- receivers' side ---------------------------------------------------------------------

    def append(self, payload: bytes, rows: int) -> Future[None]:
        """Queue a block; the future completes once it is on disk (raises :class:`SpoolFull`)."""
        future: Future[None] = Future()
        size = len(payload) + _HEADER.size
        if self.handed_off and self._pending_bytes + size > self.max_bytes:
            self._refresh_handed()
        with self._cond:
            if self._closed:
                raise SpoolClosed("the collector is stopping")
            if self._pending_bytes + size > self.max_bytes:
                raise SpoolFull(
                    f"spool holds {self._pending_bytes} bytes not yet written (limit {self.max_bytes})"
                )
            self._pending_bytes += size
            self._pending_rows += rows
        self._queue.put(_Append(payload, rows, future))
        return future

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    @property
    def sealed_count(self) -> int:
        return len(self._sealed)

    # -- writer's side -----------------------------------------------------------------------

    def next_sealed(self, timeout: float) -> Segment | None:
        """The oldest sealed segment (left in place until :meth:`release`), or None on timeout.

        While waiting, the directory is looked at every ``rescan_s`` for segments put there from
        outside (receiver processes, ``tower spool quarantine replay``).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if self._sealed:
                    return self._sealed[0]
                now = time.monotonic()
                wait = min(deadline - now, self._last_scan + self.rescan_s - now)
                if wait > 0:
                    self._cond.wait(wait)
                    if self._sealed:
                        return self._sealed[0]
            if time.monotonic() - self._last_scan >= self.rescan_s:
                self._last_scan = time.monotonic()
                self.adopt_new()
                with self._cond:
                    if self._sealed:
                        return self._sealed[0]
            if time.monotonic() >= deadline:
                return None

    def next_group(self, timeout: float, max_rows: int, max_bytes: int) -> list[Segment]:
        """The oldest sealed segments, up to ``max_rows`` rows and ``max_bytes`` bytes (at least one);
        empty on timeout. They stay in place until released."""
        if self.next_sealed(timeout) is None:
            return []
        group: list[Segment] = []
        rows = size = 0
        with self._cond:
            for segment in self._sealed:
                if group and (rows + segment.rows > max_rows or size + segment.size > max_bytes):
                    break
                group.append(segment)
                rows += segment.rows
                size += segment.size
        return group

    def take(self, paths: list[Path]) -> list[Segment]:
        """The pending segments among ``paths`` (a batch a crash interrupted; missing ones were written)."""
        self.adopt_new()
        wanted = {path.name for path in paths}
        with self._cond:
            return [segment for segment in self._sealed if segment.path.name in wanted]

    def release(self, segment: Segment) -> None:
        """The segment is in the store: delete it."""
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        with self._cond:
            if self._sealed and self._sealed[0] == segment:
                self._sealed.popleft()
            else:
                with contextlib.suppress(ValueError):
                    self._sealed.remove(segment)
            self._pending_bytes -= segment.size
            self._pending_rows -= segment.rows
            self._cond.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """Wait until everything appended so far is in the store."""
        deadline = time.monotonic() + timeout
        while True:
            self._refresh_handed()
            with self._cond:
                if self._pending_rows <= 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))

    def seal_now(self) -> None:
        """Ask the append thread to seal the active segment (used on shutdown and in tests)."""
        self._queue.put(_Append(b"", 0, Future()))

    # -- append thread -----------------------------------------------------------------------

    def _append_loop(self) -> None:
        while True:
            timeout = None
            if self._fd is not None:
                timeout = max(0.0, self._active_since + self.flush_interval_s - time.monotonic())
                if self.handed_off and self._active_rows:
                    timeout = min(timeout, IDLE_SEAL_POLL_S)
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                if (
                    not self.handed_off
                    or time.monotonic() >= self._active_since + self.flush_interval_s
                    or self._writer_took_all()
                ):
                    self._seal()
                continue
            batch = [item]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(entry is None for entry in batch)
            appends = [entry for entry in batch if entry is not None]
            try:
                self._write(appends)
            except OSError as exc:
                log.error("spool: cannot write %s: %s", self.directory, exc)
                for entry in appends:
                    with self._cond:
                        self._pending_bytes -= len(entry.payload) + _HEADER.size
                        self._pending_rows -= entry.rows
                    entry.future.set_exception(exc)
                self._discard_active()
            if stop:
                self._seal()
                return

    def _write(self, appends: list[_Append]) -> None:
        flush_request = any(not entry.payload for entry in appends)
        real = [entry for entry in appends if entry.payload]
        if real:
            if self._fd is None:
                self._new_segment()
            assert self._fd is not None
            chunks = []
            rows = 0
            for entry in real:
                chunks.append(_HEADER.pack(len(entry.payload), zlib.crc32(entry.payload), entry.rows))
                chunks.append(entry.payload)
                rows += entry.rows
            written = os.writev(self._fd, chunks)
            expected = sum(len(c) for c in chunks)
            if written != expected:  # a short write on a regular file: write the rest
                data = b"".join(chunks)[written:]
                while data:
                    data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
            self._active_rows += rows
            self._active_size += expected
        for entry in appends:
            if not entry.future.done():
                entry.future.set_result(None)
        if self._fd is not None and (
            flush_request
            or self._active_rows >= self.segment_max_rows
            or self._active_size >= self.segment_max_bytes
            or (self.handed_off and self._writer_took_all())  # the writer waits for nothing of ours
        ):
            self._seal()

    def _new_segment(self) -> None:
        self._counter += 1
        name = f"{time.time_ns():020d}-{self._run}-{self._counter:06d}{OPEN_SUFFIX}"
        path = self.directory / name
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        _fsync_dir(self.directory)
        self._active = path
        self._active_rows = 0
        self._active_size = 0
        self._active_since = time.monotonic()
        self._active_created_ns = time.time_ns()

    def _seal(self) -> None:
        if self._fd is None or self._active is None:
            return
        os.close(self._fd)
        self._fd = None
        self._hand_over_active()

    def _hand_over_active(self) -> None:
        """Rename the active segment to ``.wal`` and queue it for the writer (under the lock, so that
        :meth:`adopt_new` never takes it twice)."""
        active, self._active = self._active, None
        if active is None:
            return
        sealed = active.with_suffix(SUFFIX)
        with self._cond:
            try:
                active.rename(sealed)
                _fsync_dir(self.directory)
            except OSError as exc:
                log.error("spool: cannot seal %s: %s (it is sealed at the next start)", active, exc)
                return
            segment = Segment(sealed, self._active_rows, self._active_size)
            if self.handed_off:
                self._handed.append(segment)
            elif not any(known.path == sealed for known in self._sealed):
                self._sealed.append(segment)
            self._cond.notify_all()

    def _discard_active(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._active is not None and self._active_rows:
            self._hand_over_active()
        self._active = None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
