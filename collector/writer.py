"""Store writer: sealed spool segments -> one idempotent ClickHouse insert each.

Each segment is inserted as one batch with ``insert_deduplication_token`` = the segment's unique
name (``otel_traces`` keeps a ``non_replicated_deduplication_window``), so a segment replayed after
a crash, or retried after an error whose outcome was unknown, is stored once. Failures are retried
with exponential back-off and full jitter until the store comes back; nothing is dropped.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence

from collector.convert import COLUMNS, INSERT_FORMAT
from collector.metrics import CollectorMetrics
from collector.spool import Segment, Spool, read_segment
from storage import Store

log = logging.getLogger(__name__)

TABLE = "otel_traces"
# ClickHouse errors that say the data itself cannot be stored (retrying will never succeed):
# a segment failing with one of these a few times is moved aside instead of blocking the spool.
DATA_ERROR_CODES = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 407})
POISON_ATTEMPTS = 3
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
    ) -> None:
        self.store = store
        self.spool = spool
        self.metrics = metrics
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self._data_errors: dict[str, int] = {}

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
            segment = self.spool.next_sealed(timeout=0.2)
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
        self.spool.release(segment)
        self.metrics.observe_spool(self.spool)
        return True
