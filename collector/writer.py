"""Store writer: sealed spool segments -> one idempotent ClickHouse insert each.

Each segment is inserted as one batch with ``insert_deduplication_token`` = the segment's unique
name (``otel_traces`` keeps a ``non_replicated_deduplication_window``), so a segment replayed after
a crash, or retried after an error whose outcome was unknown, is stored once. Failures are retried
with exponential back-off and full jitter until the store comes back; nothing is dropped.

An idle writer does not wait for the spool's flush interval: it seals the active segment and writes
it at once, so a lone request is stored within ``IDLE_POLL_S``; a busy writer's segments fill while it
inserts, so batches grow with the load. After its inserts the writer runs the attribution step (:mod:`tracing.attribution`) over what it
wrote: as soon as no sealed segment waits (so a burst of segments costs one run), and at least every
``ATTRIBUTE_EVERY_S`` under continuous load. ``Collector.wait_drained()`` waits for that run too: when
it returns, every acknowledged span is on its orders' timelines, spans that name no order included.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from collector.convert import COLUMNS, INSERT_FORMAT
from collector.metrics import CollectorMetrics
from collector.spool import Segment, Spool, read_segment
from storage import Store
from tracing.attribution import Attributor

log = logging.getLogger(__name__)

TABLE = "otel_traces"
# ClickHouse errors that say the data itself cannot be stored (retrying will never succeed):
# a segment failing with one of these a few times is moved aside instead of blocking the spool.
DATA_ERROR_CODES = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 407})
POISON_ATTEMPTS = 3
# Under continuous load, attribute what was written at least this often (bounds the freshness lag).
ATTRIBUTE_EVERY_S = 0.5
# An idle writer seals the spool's active segment this often: acknowledged spans are written (and
# on their timelines) within about this, not the flush interval, while the writer has nothing to do.
IDLE_POLL_S = 0.05
_CODE = re.compile(r"Code: (\d+)")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code named in an exception's text, if any."""
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def insert_block(store: Store, block: bytes | Sequence[bytes | memoryview], token: str) -> None:
    """Insert concatenated ``JSONCompactColumns`` blocks into ``otel_traces`` as one batch.

    ``block`` is the bytes or a sequence of blocks, streamed one at a time (never joined in memory).
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
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        sleep: Callable[[float], None] | None = None,
        attributor: Attributor | None = None,
    ) -> None:
        self.store = store
        self.attributor = attributor
        self.spool = spool
        self.metrics = metrics
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self._data_errors: dict[str, int] = {}
        # writes not attributed yet: the store's clock before the first of them, and counters
        self._began: datetime | None = None
        self._began_at = 0.0
        self._attribution = threading.Condition()
        self._written = 0
        self._attributed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="collector-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            segment = self.spool.next_sealed(timeout=0.0)
            if segment is None:
                self._attribute()  # nothing waits: attribute what was written
                # idle: write what was acknowledged since without waiting for the flush interval
                # (a busy writer batches as before: segments fill while it inserts)
                self.spool.seal_now()
                segment = self.spool.next_sealed(timeout=IDLE_POLL_S)
            if segment is None:
                continue
            if self._write(segment):
                attempt = 0
                continue
            attempt += 1
            self.metrics.write_retries.inc()
            ceiling = min(self.max_backoff_s, self.initial_backoff_s * (2 ** min(attempt, 30)))
            self._stop.wait(random.uniform(self.initial_backoff_s / 2, ceiling))

    def _write(self, segment: Segment) -> bool:
        started = time.perf_counter()
        try:
            payloads, rows = read_segment(segment.path)
        except FileNotFoundError:
            log.error("spool segment %s vanished; releasing it", segment.path)
            self.spool.release(segment)
            return True
        if self.attributor is not None and payloads and self._began is None:
            self._began = self.attributor.begin()
            self._began_at = time.monotonic()
        try:
            if payloads:
                insert_block(self.store, payloads, segment.token)
        except Exception as exc:
            self.failures += 1
            self.metrics.write_failures.inc()
            first_line = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            if error_code(exc) in DATA_ERROR_CODES:
                count = self._data_errors.get(segment.token, 0) + 1
                self._data_errors[segment.token] = count
                if count >= POISON_ATTEMPTS:
                    moved = self.spool.quarantine(segment)
                    self._data_errors.pop(segment.token, None)
                    self.metrics.spans_quarantined.inc(rows)
                    log.error(
                        "collector.segment_quarantined segment=%s rows=%d path=%s error=%s",
                        segment.token,
                        rows,
                        moved,
                        first_line,
                    )
                    return True
            log.warning(
                "collector.write_failed segment=%s rows=%d error=%s (will retry)",
                segment.token,
                rows,
                first_line,
            )
            return False
        elapsed = time.perf_counter() - started
        self.metrics.write_seconds.observe(elapsed)
        self.metrics.spans_written.inc(rows)
        self.metrics.batches_written.inc()
        with self._attribution:
            self._written += 1
        self.spool.release(segment)
        self.metrics.observe_spool(self.spool)
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
