"""Store writer: sealed spool segments -> idempotent ClickHouse inserts; no segment can block the rest.

Each segment is inserted as one batch with ``insert_deduplication_token`` = the segment's unique
name (``otel_traces`` keeps a ``non_replicated_deduplication_window``), so a segment replayed after
a crash, or retried after an error whose outcome was unknown, is stored once. When the store is
unreachable or refuses for a reason of its own (table missing, too many parts, memory), the insert
is retried with exponential back-off and full jitter; nothing is dropped. When it refuses the data
(a parse or type error, too many partitions in one block), the segment is split in halves, each
inserted with a token derived from the segment and its row range, recursively, until only the
rows the store refuses are left: those go to the quarantine (``collector.quarantine``) with their
reason and every other row is written. A split is deterministic, so after a crash half-way the
same ranges get the same tokens and the halves already written are dropped by ClickHouse.

An idle writer does not wait for the spool's flush interval: it seals its spool's active segment and
writes it at once (receiver processes seal theirs when the writer has taken what they sealed before:
``collector.spool``), so a lone request is stored within about ``IDLE_POLL_S`` plus the insert; a busy
writer's segments fill while it inserts, so batches grow with the load. After its inserts the writer
runs the attribution step (:mod:`tracing.attribution`) over what it wrote: as soon as no sealed segment
waits (so a burst of segments costs one run), and at least every ``ATTRIBUTE_EVERY_S`` under
continuous load. ``Collector.wait_drained()`` waits for that run too: when it returns, every
acknowledged span is on its orders' timelines, spans that name no order included.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.convert import INSERT_FORMAT, BlockRows, Limits, convert
from collector.engine import RequestRows, insert_requests, is_legacy, segment_rows
from collector.metrics import CollectorMetrics
from collector.quarantine import Entry, Quarantine
from collector.spool import Segment, Spool, read_segment
from storage import Store
from storage.errors import TowerError
from storage.schema import OTEL_TRACES_COLUMNS as COLUMNS
from tracing.attribution import Attributor

log = logging.getLogger(__name__)

TABLE = "otel_traces"
# ClickHouse errors that say the data itself cannot be stored (retrying will never succeed): the
# segment is split until the refused rows are found.
DATA_ERROR_CODES = frozenset({6, 25, 26, 27, 33, 38, 41, 53, 69, 70, 72, 117, 128, 131, 190, 321, 407, 469})
TOO_MANY_PARTS = 252  # also "too many partitions for a single INSERT block": split, never quarantine
# Under continuous load, attribute what was written at least this often (bounds the freshness lag).
ATTRIBUTE_EVERY_S = 0.5
# An idle writer seals the spool's active segment this often: acknowledged spans are written (and
# on their timelines) within about this, not the flush interval, while the writer has nothing to do.
IDLE_POLL_S = 0.05
_CODE = re.compile(r"Code: (\d+)")

ErrorKind = Literal["data", "split", "transient"]


class _StoreUnavailable(TowerError):
    """An insert during a split failed for a reason of the store's: retry the segment later."""


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code named in an exception's text, if any."""
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def classify(exc: BaseException) -> ErrorKind:
    """``data``: the rows are refused; ``split``: the block is too wide; ``transient``: retry later."""
    code = error_code(exc)
    if code in DATA_ERROR_CODES:
        return "data"
    if code == TOO_MANY_PARTS and "partitions" in str(exc).lower():
        return "split"
    return "transient"


def first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:500] if text else type(exc).__name__


def insert_block(store: Store, block: bytes | Sequence[bytes | memoryview], token: str) -> None:
    """Insert concatenated ``JSONCompactColumns`` blocks into ``otel_traces`` as one batch.

    ``block`` is the bytes or a sequence of blocks, streamed one at a time (never joined in memory).
    Segments spooled before the engine converted OTLP requests hold such blocks.
    """
    data = block if isinstance(block, bytes) else (bytes(part) for part in block)
    store.client.raw_insert(
        TABLE,
        list(COLUMNS),
        insert_block=data,
        fmt=INSERT_FORMAT,
        settings={
            "insert_deduplication_token": token,
            "insert_deduplicate": 1,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "optimize_on_insert": 0,  # as collector.engine.settings
            **store.acknowledged_insert_settings(),
        },
    )


class StoreWriter:
    """Thread that moves sealed segments from the spool into ClickHouse."""

    def __init__(
        self,
        store: Store,
        spool: Spool,
        metrics: CollectorMetrics,
        *,
        limits: Limits | None = None,
        batch_max_rows: int = 50_000,
        batch_max_bytes: int = 12 * 1024 * 1024,
        python_convert_max_rows: int = 1000,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        sleep: Callable[[float], None] | None = None,
        attributor: Attributor | None = None,
    ) -> None:
        self.store = store
        self.attributor = attributor
        self.spool = spool
        self.metrics = metrics
        self.limits = limits or Limits()
        self.batch_max_rows = batch_max_rows
        self.batch_max_bytes = batch_max_bytes
        # Inserts of up to this many spans are converted in Python and sent as JSONCompactColumns
        # blocks (the same rows: tests/collector/test_engine_convert.py): for a few spans the engine's
        # conversion query costs more to analyse (a few hundred ms per insert on the 2-core machine)
        # than Python takes to convert them, and a lone request waits for exactly that insert.
        self.python_convert_max_rows = python_convert_max_rows
        self._scratch = spool.directory / "tmp" / "insert.pb"
        # batches of several segments being inserted: written before the insert, removed after, so
        # that a crash replays the same segments with the same token (ClickHouse drops a repeat)
        self._intent_dir = spool.directory / "batches"
        self._intents: list[Path] = []
        self.quarantine = Quarantine(spool.directory)
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.last_error = ""
        # monotonic time the writer last moved data (or found nothing to do): health reads it
        self.last_progress = time.monotonic()
        self._cpu_sampled = 0.0
        # writes not attributed yet: the store's clock before the first of them, and counters
        self._began: datetime | None = None
        self._began_at = 0.0
        self._attribution = threading.Condition()
        self._written = 0
        self._attributed = 0

    def _insert(
        self, rows: bytes | list[bytes] | list[memoryview], token: str, legacy: bool, count: int
    ) -> None:
        if legacy:
            insert_block(self.store, rows, token)
            return
        bodies: list[bytes] | list[memoryview] = [rows] if isinstance(rows, bytes) else rows
        blocks = self._converted(bodies) if count <= self.python_convert_max_rows else None
        if blocks is not None:
            if blocks:  # requests without spans are never spooled; nothing to insert otherwise
                insert_block(self.store, blocks, token)
        else:
            self._scratch.parent.mkdir(exist_ok=True)
            insert_requests(self.store, bodies, token, self.limits, self._scratch)

    def _converted(self, bodies: Sequence[bytes | memoryview]) -> list[bytes] | None:
        """Spooled requests as JSONCompactColumns blocks (Python's conversion), or None when one of
        them does not convert whole (the engine's path then stores, splits or quarantines it)."""
        blocks = []
        for body in bodies:
            try:
                request = ExportTraceServiceRequest.FromString(bytes(body))
            except DecodeError:
                return None
            conversion = convert(request, self.limits)
            if conversion.rejected:
                return None
            if conversion.block:
                blocks.append(conversion.block)
        return blocks

    def start(self) -> None:
        self._intents = sorted(self._intent_dir.glob("*.json")) if self._intent_dir.is_dir() else []
        self.last_progress = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="collector-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _sample_engine_cpu(self) -> None:
        """Engine CPU so far (user + system time of every engine thread), for /metrics and benches."""
        now = time.monotonic()
        if now - self._cpu_sampled < 1.0:
            return
        self._cpu_sampled = now
        try:
            micros = self.store.scalar(
                "SELECT sum(value) FROM system.events "
                "WHERE event IN ('UserTimeMicroseconds', 'SystemTimeMicroseconds')"
            )
        except Exception:  # the store is down: health reports that, not this gauge
            return
        self.metrics.engine_cpu.set((micros or 0) / 1e6)

    def _loop(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            self._sample_engine_cpu()
            try:
                batch = self._next_batch(0.0)
                if batch is None:
                    self.last_progress = time.monotonic()  # idle is not stalled
                    self._attribute()  # nothing waits: attribute what was written
                    # idle: write what was acknowledged since without waiting for the flush interval
                    # (a busy writer batches as before: segments fill while it inserts)
                    self.spool.seal_now()
                    batch = self._next_batch(IDLE_POLL_S)
                if batch is None:
                    continue
                written = self._write(*batch)
            except Exception:  # never let the writer die silently: health would not see why
                log.exception("collector.writer_error (will retry)")
                written = False
            if written:
                attempt = 0
                continue
            attempt += 1
            self.metrics.write_retries.inc()
            ceiling = min(self.max_backoff_s, self.initial_backoff_s * (2 ** min(attempt, 30)))
            self._stop.wait(random.uniform(self.initial_backoff_s / 2, ceiling))

    def _next_batch(self, timeout: float) -> tuple[list[Segment], str] | None:
        """The next insert: a batch a crash interrupted (same segments, same token), or the oldest
        sealed segments up to batch_max_rows / batch_max_bytes (one insert costs ClickHouse a fixed
        query analysis, so small segments are inserted together)."""
        if self._intents:
            path = self._intents[0]
            intent = json.loads(path.read_text())
            segments = self.spool.take([self.spool.directory / name for name in intent["segments"]])
            return segments, str(intent["token"])
        group = self.spool.next_group(timeout, self.batch_max_rows, self.batch_max_bytes)
        if not group:
            return None
        # a segment alone: its name is its token. It is written down too: after a crash between its
        # insert and its delete it must be inserted alone again (the same token), not grouped with
        # segments sealed since (another token: its rows stored twice). ~0.6 ms per insert here.
        token = group[0].token if len(group) == 1 else f"{group[0].token}+{len(group)}"
        self._intent_dir.mkdir(exist_ok=True)
        path = self._intent_dir / f"{token}.json"
        names = [str(segment.path.relative_to(self.spool.directory)) for segment in group]
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w") as handle:
            json.dump({"token": token, "segments": names}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fd = os.open(self._intent_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._intents.append(path)
        return group, token

    def _done(self, token: str) -> None:
        for path in list(self._intents):
            if path.stem == token:
                path.unlink(missing_ok=True)
                self._intents.remove(path)

    def _write(self, segments: list[Segment], token: str) -> bool:
        """Insert a batch of segments as one insert; False when it must be retried later."""
        started = time.perf_counter()
        payloads: list[memoryview] = []
        rows = 0
        present = []
        for segment in segments:
            try:
                records, count = read_segment(segment.path)
            except FileNotFoundError:
                log.error("spool segment %s vanished; releasing it", segment.path)
                self.spool.release(segment)
                continue
            payloads.extend(records)
            rows += count
            present.append(segment)
        legacy = is_legacy(payloads)
        if legacy and len(present) > 1 and not all(is_legacy(read_segment(s.path)[0]) for s in present):
            present = present[:1]  # never mix formats: the earlier version's segment alone
            payloads, rows = read_segment(present[0].path)
            token = present[0].token
        written = rows
        if self.attributor is not None and payloads and self._began is None:
            self._began = self.attributor.begin()
            self._began_at = time.monotonic()
        try:
            if payloads:
                self._insert(payloads, token, legacy, rows)
        except Exception as exc:
            self._failed(exc)
            kind = classify(exc)
            if kind == "transient":
                log.warning(
                    "collector.write_failed batch=%s rows=%d error=%s (will retry)",
                    token,
                    rows,
                    first_line(exc),
                )
                return False
            log.warning(
                "collector.write_refused batch=%s rows=%d error=%s (splitting to find the refused rows)",
                token,
                rows,
                first_line(exc),
            )
            try:
                written = self._split(token, segment_rows(payloads), exc, legacy)
            except _StoreUnavailable:
                return False
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        self.metrics.spans_written.inc(written)
        self.metrics.batches_written.inc()
        with self._attribution:
            self._written += 1
        for segment in present:
            self.spool.release(segment)
        self._done(token)
        self.metrics.observe_spool(self.spool)
        self.last_progress = time.monotonic()
        if self._began is not None and time.monotonic() - self._began_at >= ATTRIBUTE_EVERY_S:
            self._attribute()
        return True

    def _attribute(self) -> None:
        """Attribute everything written since the last run (logs and carries on when it fails)."""
        with self._attribution:
            target = self._written
        if self.attributor is not None and self._began is not None:
            began, self._began = self._began, None
            self.attributor.after_write(began)
        with self._attribution:
            self._attributed = max(self._attributed, target)
            self._attribution.notify_all()

    def wait_attributed(self, timeout: float) -> bool:
        """Wait until everything written so far went through the attribution step."""
        deadline = time.monotonic() + timeout
        with self._attribution:
            target = self._written
            while self._attributed < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._attribution.wait(min(left, 0.1))
            return True

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = first_line(exc)
        self.metrics.write_failures.inc()

    def _split(self, token: str, rows: BlockRows | RequestRows, error: BaseException, legacy: bool) -> int:
        """Insert every row of the segment the store accepts; quarantine the others. Returns rows written."""
        written = 0
        # ranges still to insert, with the error their parent range got; depth first, in order
        pending: list[tuple[int, int, BaseException]] = [(0, rows.count, error)]
        while pending:
            first, end, parent_error = pending.pop()
            if end - first == 1:
                self._quarantine(token, rows, first, parent_error)
                continue
            middle = (first + end) // 2
            for low, high in ((middle, end), (first, middle)):  # popped low half first
                if low >= high:
                    continue
                try:
                    self._insert(rows.block(low, high), f"{token}-{low}-{high}", legacy, high - low)
                except Exception as exc:
                    self._failed(exc)
                    if classify(exc) == "transient":
                        log.warning(
                            "collector.write_failed batch=%s rows=%d..%d error=%s (will retry)",
                            token,
                            low,
                            high,
                            first_line(exc),
                        )
                        raise _StoreUnavailable from exc
                    pending.append((low, high, exc))
                else:
                    written += high - low
                    self.last_progress = time.monotonic()
        return written

    def _quarantine(
        self, token: str, rows: BlockRows | RequestRows, index: int, error: BaseException
    ) -> None:
        row = rows.row(index)
        block = rows.block(index, index + 1)
        entry = Entry(
            id=f"{token}-{index}",
            segment=token,
            rows=1,
            reason=first_line(error),
            code=error_code(error),
            error=str(error)[:4000],
            quarantined_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            span_ids=[str(row.get("SpanId", row.get("span_id", "")))],
            trace_ids=[str(row.get("TraceId", row.get("trace_id", "")))],
        )
        path = self.quarantine.add(entry, block if isinstance(block, bytes) else block[0])
        self.metrics.spans_quarantined.inc()
        self.last_progress = time.monotonic()
        log.error(
            "collector.span_quarantined batch=%s row=%d span=%s path=%s error=%s",
            token,
            index,
            entry.span_ids[0],
            path,
            entry.reason,
        )
