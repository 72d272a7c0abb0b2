"""Whether the collector keeps up: what ``/healthz``, ``/readyz`` and ``/metrics`` report.

``degraded`` when spans wait in the spool and the writer has moved none of them for
``health_stall_s`` (the store is down or refuses everything), or when the spool holds more than
``health_spool_fraction`` of ``spool_max_bytes`` (senders get 503 soon). Receiving still works
while degraded (spans are spooled as long as there is room), so liveness stays 200 and only
readiness answers 503: a load balancer sends new traffic to a healthy replica.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings

if TYPE_CHECKING:
    from collector.spool import Spool
    from collector.writer import StoreWriter


@dataclass
class Health:
    status: str  # "ok" or "degraded"
    reasons: list[str] = field(default_factory=list)
    spool_pending_spans: int = 0
    spool_pending_bytes: int = 0
    spool_max_bytes: int = 0
    oldest_unwritten_span_age_s: float = 0.0
    writer_stalled_s: float = 0.0
    quarantined_spans: int = 0
    last_write_error: str = ""

    @property
    def ready(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def observe(self, metrics: CollectorMetrics) -> None:
        """Set the health gauges of ``metrics``."""
        metrics.oldest_unwritten_age.set(self.oldest_unwritten_span_age_s)
        metrics.writer_stalled.set(self.writer_stalled_s)
        metrics.healthy.set(1 if self.ready else 0)
        metrics.quarantine_rows.set(self.quarantined_spans)


def assess(settings: CollectorSettings, spool: Spool, writer: StoreWriter) -> Health:
    """The collector's health now."""
    pending = spool.pending_rows
    oldest = spool.oldest_pending_ns()
    age = max(0.0, (time.time_ns() - oldest) / 1e9) if oldest is not None else 0.0
    stalled = max(0.0, time.monotonic() - writer.last_progress) if pending > 0 else 0.0
    reasons = []
    if pending > 0 and stalled >= settings.health_stall_s:
        reasons.append(
            f"the writer has stored nothing for {stalled:.0f} s while {pending} spans wait "
            f"(last error: {writer.last_error or 'none'})"
        )
    limit = settings.spool_max_bytes
    if spool.pending_bytes > settings.health_spool_fraction * limit:
        reasons.append(
            f"the spool holds {spool.pending_bytes} of {limit} bytes "
            f"(over {settings.health_spool_fraction:.0%}); senders get 503 when it is full"
        )
    return Health(
        status="degraded" if reasons else "ok",
        reasons=reasons,
        spool_pending_spans=pending,
        spool_pending_bytes=spool.pending_bytes,
        spool_max_bytes=limit,
        oldest_unwritten_span_age_s=round(age, 3),
        writer_stalled_s=round(stalled, 3),
        quarantined_spans=writer.quarantine.rows(),
        last_write_error=writer.last_error,
    )
