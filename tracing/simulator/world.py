"""The simulation's shared state and helpers: the random stream, ids, the span builder, working hours."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass

from tracing import conventions as c
from tracing.conventions import Stage
from tracing.records import STATUS_OK, Attributes, SpanEventRecord, SpanLinkRecord, SpanRecord
from tracing.simulator.config import DAY, HOUR, SECOND, SimulatorConfig
from tracing.simulator.network import System
from tracing.simulator.truth import GroundTruth


@dataclass
class Trace:
    id: str


class World:
    """What every part of the simulation shares; deterministic for a given config."""

    def __init__(self, config: SimulatorConfig, truth: GroundTruth | None) -> None:
        self.config = config
        seed = config.seed
        self.rng = random.Random(seed if not config.id_offset else f"{seed}:{config.id_offset}")
        self.truth = truth
        self.out: list[SpanRecord] = []
        self._counters: dict[str, itertools.count[int]] = {}

    def next(self, name: str, first: int) -> int:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = itertools.count(first + self.config.id_offset)
        return next(counter)

    def trace(self) -> Trace:
        return Trace(f"{self.rng.getrandbits(128):032x}")

    def span(
        self,
        trace: Trace,
        parent: SpanRecord | None,
        name: str,
        kind: str,
        system: System,
        start: int,
        duration: int,
        attributes: Attributes,
        *,
        stage: Stage | str | None = None,
        status: str = STATUS_OK,
        message: str = "",
        links: Iterable[SpanRecord] = (),
        events: list[SpanEventRecord] | None = None,
    ) -> SpanRecord:
        attrs: Attributes = dict(attributes)
        if stage is not None:
            attrs[c.STAGE] = str(stage)
            attrs[c.SYSTEM_KIND] = str(system.kind)
            attrs[c.SYSTEM_INSTANCE] = system.instance
        record = SpanRecord(
            trace_id=trace.id,
            span_id=f"{self.rng.getrandbits(64):016x}",
            parent_span_id=parent.span_id if parent is not None else "",
            name=name,
            kind=kind,
            service_name=system.instance,
            resource=system.resource,
            attributes=attrs,
            start_ns=start,
            end_ns=start + max(duration, 1000),
            status_code=status,
            status_message=message,
            events=events or [],
            links=[SpanLinkRecord(link.trace_id, link.span_id) for link in links],
        )
        self.out.append(record)
        return record

    def secs(self, low: float, high: float) -> int:
        return int(self.rng.uniform(low, high) * SECOND)

    def is_business(self, t: int) -> bool:
        day = t // DAY
        if (day + 3) % 7 >= 5:  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
            return False
        start, end = self.config.business_hours
        return start * HOUR <= t - day * DAY < end * HOUR

    def open_at(self, t: int, hours: tuple[int, int] | None = None, workdays: int = 5) -> int:
        """The earliest time at or after ``t`` inside working hours."""
        start, end = hours or self.config.business_hours
        for _ in range(14):
            day = t // DAY
            if (day + 3) % 7 < workdays:
                opens, closes = day * DAY + start * HOUR, day * DAY + end * HOUR
                if t < opens:
                    return opens
                if t < closes:
                    return t
            t = (day + 1) * DAY
        return t

    def person_acts(self, after: int, mean_hours: float) -> int:
        """When a person gets to a work item queued at ``after`` (business hours only)."""
        waited = after + int(self.rng.expovariate(1 / mean_hours) * HOUR)
        return self.open_at(waited)

    def warehouse_open(self, t: int) -> int:
        return self.open_at(t, WAREHOUSE_HOURS, workdays=6)

    def person(self, role: str) -> str:
        return f"{role}{self.rng.randint(1, 6):02d}@distributor.example"

    def cause(self, order_id: str, cause: str) -> None:
        if self.truth is not None:
            self.truth.cause(order_id, cause)


WAREHOUSE_HOURS = (11, 24)  # UTC, Monday-Saturday
