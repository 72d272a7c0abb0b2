"""A deterministic (seeded) model of a national distributor's order-to-cash flow, as hop spans.

The systems follow the article's distributor: a web shop and a B2B portal, an EDI gateway receiving
850 purchase orders in batch files, middleware holding the canonical order model, two regional ERPs
(``erp-east``, ``erp-west``), a WMS running several warehouses, a TMS, three carriers and a cloud
finance ERP. People work business hours (UTC, Monday-Friday by default); warehouses work longer.

Trace context breaks where it breaks in real integrations, so one order is several traces:

* EDI files: the gateway's file trace (file span + one translation span per purchase order, no
  canonical order id yet), the middleware's batch trace (one span listing every order of the file)
  and the order's own trace, joined by keys and span links only;
* the WMS picks up released orders by polling (a new trace per shipment, linked to the allocation);
* carrier events arrive by webhook (a new trace per shipment, linked to the ship confirmation);
* invoices are posted by a nightly run (one trace per run, listing its orders; consolidated
  invoices cover several orders of one customer).

Exceptions (credit holds, pricing exceptions, stockouts with backorders or split shipments, EDI
mapping errors and reprocessing, envelope rejects, carrier pickup delays and delivery exceptions,
duplicate submissions, late invoices) are hop spans carrying ``order.exception.type`` and
``order.exception.outcome``; people resolving them are manual touches.

``Simulator(config).generate()`` yields :class:`~tracing.records.SpanRecord` s; the sinks in
:mod:`tracing.sinks` send them over OTLP or write them straight into ClickHouse.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from tracing import conventions as c
from tracing.conventions import Channel, CustomerTier, ExceptionOutcome, ExceptionType, Stage, SystemKind
from tracing.records import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_INTERNAL,
    KIND_PRODUCER,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_OK,
    Attributes,
    SpanEventRecord,
    SpanLinkRecord,
    SpanRecord,
)

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_ORDERS = 100_000_000


@dataclass(frozen=True)
class ExceptionRates:
    """Probabilities (0..1) of each exception; per order unless noted."""

    credit_hold: float = 0.04
    pricing: float = 0.05
    stockout: float = 0.06
    split_shipment: float = 0.5  # share of stockouts shipped in two parts instead of fully backordered
    backorder_cancel: float = 0.1  # share of full backorders the customer cancels
    edi_mapping: float = 0.03  # per EDI purchase order
    edi_envelope: float = 0.01  # per EDI file: envelope rejected, partner resends
    carrier_delay: float = 0.05  # per shipment
    carrier_exception: float = 0.01  # per shipment
    duplicate: float = 0.01
    late_invoice: float = 0.03  # per invoice
    malformed: float = 0.001  # legacy spans missing the conventions (reported as violations)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"exception rate {f.name} must be between 0 and 1, got {value!r}")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


DEFAULT_CHANNEL_MIX: Mapping[str, float] = {
    Channel.EDI: 0.45,
    Channel.ECOMMERCE: 0.35,
    Channel.PORTAL: 0.12,
    Channel.SALES: 0.08,
}


@dataclass(frozen=True)
class SimulatorConfig:
    """What to simulate. Times are UTC; ``end`` defaults to now."""

    seed: int = 7
    orders: int = 1000  # orders captured over the history window
    days: float = 30.0  # length of the history window ending at ``end``
    end: datetime | None = None
    rates: ExceptionRates = field(default_factory=ExceptionRates)
    channel_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CHANNEL_MIX))
    customers: int = 120
    edi_batch_minutes: int = 120  # how often each trading partner sends an 850 file
    business_hours: tuple[int, int] = (13, 22)  # UTC hours people work, Monday-Friday
    live_orders_per_hour: float = 120.0
    id_offset: int = 0  # added to every generated number, so several simulators never share keys

    def __post_init__(self) -> None:
        if not 0 <= self.orders <= MAX_ORDERS:
            raise ValueError(f"orders must be between 0 and {MAX_ORDERS:,}, got {self.orders}")
        if not 0 < self.days <= 3660:
            raise ValueError(f"days must be more than 0 and at most 3660, got {self.days}")
        if self.customers < 4:
            raise ValueError(f"customers must be at least 4, got {self.customers}")
        if self.edi_batch_minutes < 1:
            raise ValueError(f"edi_batch_minutes must be at least 1, got {self.edi_batch_minutes}")
        start, end = self.business_hours
        if not 0 <= start < end <= 24:
            raise ValueError(
                f"business_hours must be (start, end) with 0 <= start < end <= 24, got {self.business_hours}"
            )
        unknown = [name for name in self.channel_mix if name not in set(Channel)]
        if unknown:
            raise ValueError(f"unknown channel(s) in channel_mix: {', '.join(map(str, unknown))}")
        if sum(self.channel_mix.values()) <= 0 or any(v < 0 for v in self.channel_mix.values()):
            raise ValueError("channel_mix weights must be 0 or more and not all 0")
        if not 0 <= self.id_offset <= 10**12:
            raise ValueError(f"id_offset must be between 0 and 10**12, got {self.id_offset}")
        if self.live_orders_per_hour < 0:
            raise ValueError("live_orders_per_hour must be 0 or more")

    @property
    def end_ns(self) -> int:
        if self.end is None:
            return time.time_ns()
        end = self.end if self.end.tzinfo else self.end.replace(tzinfo=UTC)
        return int(end.timestamp() * 1e9)


# -- the distributor's systems ----------------------------------------------------------------


@dataclass(frozen=True)
class System:
    instance: str
    kind: SystemKind
    resource: dict[str, str]


def _system(instance: str, kind: SystemKind, **extra: str) -> System:
    resource = {
        c.SERVICE_NAME: instance,
        c.SERVICE_INSTANCE_ID: f"{instance}-1",
        c.SYSTEM_KIND: str(kind),
        c.SYSTEM_INSTANCE: instance,
        **extra,
    }
    return System(instance, kind, resource)


WEB_SHOP = _system("web-shop", SystemKind.ECOMMERCE)
B2B_PORTAL = _system("b2b-portal", SystemKind.ECOMMERCE)
EDI_GATEWAY = _system("edi-gateway", SystemKind.EDI)
MIDDLEWARE = _system("middleware", SystemKind.MIDDLEWARE)
ERPS = {
    "east": _system("erp-east", SystemKind.ERP, **{c.REGION: "east"}),
    "west": _system("erp-west", SystemKind.ERP, **{c.REGION: "west"}),
}
WMS = _system("wms", SystemKind.WMS)
TMS = _system("tms", SystemKind.TMS)
FINANCE = _system("finance-cloud", SystemKind.FINANCE)
CARRIERS = {
    "ups": _system("carrier-ups", SystemKind.CARRIER),
    "fedex": _system("carrier-fedex", SystemKind.CARRIER),
    "xpo": _system("carrier-xpo", SystemKind.CARRIER),
}
WAREHOUSES = {"east": ("WH-ATL", "WH-NJ"), "west": ("WH-DAL", "WH-RNO")}
SYSTEMS: tuple[System, ...] = (
    WEB_SHOP,
    B2B_PORTAL,
    EDI_GATEWAY,
    MIDDLEWARE,
    *ERPS.values(),
    WMS,
    TMS,
    FINANCE,
    *CARRIERS.values(),
)
OUR_EDI_ID = "DISTRIBUTOR01"
CHUNK_ORDERS = 20_000  # orders planned at once when generating history
INVOICE_RUN_MAX = 500  # orders listed by one invoice-run span (collectors cap array attributes)
QUEUE = "orders.inbound"


@dataclass(frozen=True)
class Customer:
    id: str
    tier: CustomerTier
    region: str
    channel: Channel
    edi_id: str  # ISA sender id for EDI trading partners
    consolidated_billing: bool


# -- internal state of one order --------------------------------------------------------------


@dataclass
class _Plan:
    """An order before it is generated: who, when, how."""

    seq: int
    at: int
    channel: Channel
    customer: Customer


@dataclass
class _Order:
    id: str
    plan: _Plan
    base: Attributes
    edi: bool
    po: str
    lines: int
    region: str
    erp: System
    keys: Attributes = field(default_factory=dict)  # external keys carried by later hops


@dataclass
class _Trace:
    id: str


@dataclass(order=True)
class _Due:
    end_ns: int
    seq: int
    record: SpanRecord = field(compare=False)


class Simulator:
    """Generates span records for the configured distributor; deterministic for a given config.

    ``generate()`` yields every span of the history window (spans of in-flight orders may end after
    ``end``). ``backfill()`` and ``advance()`` instead release spans only once they have ended, for a
    feed that continues live.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        seed = self.config.seed
        self._rng = random.Random(seed if not self.config.id_offset else f"{seed}:{self.config.id_offset}")
        self._counters: dict[str, itertools.count[int]] = {}
        self.customers = self._make_customers()
        self._by_channel: dict[Channel, list[Customer]] = defaultdict(list)
        for customer in self.customers:
            self._by_channel[customer.channel].append(customer)
        self._out: list[SpanRecord] = []
        self._invoice_runs: dict[int, dict[Customer, list[_Order]]] = defaultdict(lambda: defaultdict(list))
        self._edi_carry: dict[str, list[_Order]] = defaultdict(list)  # duplicate POs resent in a later file
        self._edi_waiting: list[_Plan] = []  # EDI orders whose partner's file has not been sent yet
        self._seq = itertools.count()
        self._pending: list[_Due] = []
        self._generated_until: int | None = None
        self.orders_generated = 0

    # -- public API ---------------------------------------------------------------------------

    def generate(self) -> Iterator[SpanRecord]:
        """Every span of ``config.orders`` orders captured over the history window."""
        end = self.config.end_ns
        start = end - int(self.config.days * DAY)
        yield from self._history(start, end, self.config.orders, flush_until=None)

    def backfill(self, now_ns: int | None = None) -> Iterator[SpanRecord]:
        """History up to ``now`` (default ``config.end``): spans that have ended; the rest wait."""
        now = now_ns if now_ns is not None else self.config.end_ns
        start = now - int(self.config.days * DAY)
        for record in self._history(start, now, self.config.orders, flush_until=now):
            if record.end_ns <= now:
                yield record
            else:
                self._push(record)
        self._generated_until = now

    def advance(self, now_ns: int | None = None) -> list[SpanRecord]:
        """Live traffic: orders captured since the last call plus waiting spans that have now ended."""
        now = now_ns if now_ns is not None else time.time_ns()
        since = self._generated_until if self._generated_until is not None else now
        if now > since:
            mean = self.config.live_orders_per_hour * (now - since) / HOUR
            count = _poisson(self._rng, mean)
            for record in self._window(since, now, count, flush_until=now):
                self._push(record)
            self._generated_until = now
        due: list[SpanRecord] = []
        while self._pending and self._pending[0].end_ns <= now:
            due.append(heapq.heappop(self._pending).record)
        return due

    @property
    def pending(self) -> int:
        """Spans generated but not yet ended (in-flight orders)."""
        return len(self._pending)

    # -- windows --------------------------------------------------------------------------------

    def _history(self, start: int, end: int, count: int, flush_until: int | None) -> Iterator[SpanRecord]:
        """A long window in chunks of at most a day and ``CHUNK_ORDERS`` orders (bounded memory),
        with more orders in busier chunks (weekdays, business hours)."""
        chunks = max(1, -(-(end - start) // DAY), -(-count // CHUNK_ORDERS))
        bounds = [start + (end - start) * i // chunks for i in range(chunks + 1)]
        weights = [self._window_weight(bounds[i], bounds[i + 1]) for i in range(chunks)]
        total = sum(weights)
        shares = [count * w / total for w in weights] if total > 0 else [count / chunks] * chunks
        counts = [int(share) for share in shares]
        by_remainder = sorted(range(chunks), key=lambda i: shares[i] - counts[i], reverse=True)
        for i in by_remainder[: count - sum(counts)]:
            counts[i] += 1
        for i in range(chunks):
            last = i == chunks - 1
            yield from self._window(
                bounds[i], bounds[i + 1], counts[i], flush_until if last else bounds[i + 1]
            )

    def _window_weight(self, start: int, end: int) -> float:
        """Expected arrivals in [start, end), relative to the same time at a busy hour."""
        mix = self.config.channel_mix
        points = max(1, min(24, (end - start) // HOUR))
        weight = 0.0
        for k in range(points):
            t = start + (end - start) * (2 * k + 1) // (2 * points)
            weight += sum(share * self._arrival_weight(t, Channel(name)) for name, share in mix.items())
        return weight / points * (end - start)

    def _push(self, record: SpanRecord) -> None:
        heapq.heappush(self._pending, _Due(record.end_ns, next(self._seq), record))

    def _window(self, start: int, end: int, count: int, flush_until: int | None) -> Iterator[SpanRecord]:
        plans = self._plans(start, end, count)
        units = self._units(plans, flush_until)
        for at, unit in units:
            if isinstance(unit, tuple):
                self._edi_file(*unit)
            else:
                self._order_from_plan(unit)
            if len(self._out) >= 512:
                yield from self._drain()
            # invoice runs whose cut-off has passed can no longer gain orders
            ready = [run for run in self._invoice_runs if run <= at]
            for run in sorted(ready):
                self._invoice_run(run, self._invoice_runs.pop(run))
        for run in sorted(self._invoice_runs):
            if flush_until is None or run <= flush_until:
                self._invoice_run(run, self._invoice_runs.pop(run))
        yield from self._drain()

    def _drain(self) -> list[SpanRecord]:
        out, self._out = self._out, []
        return out

    def _plans(self, start: int, end: int, count: int) -> list[_Plan]:
        rng = self._rng
        mix = self.config.channel_mix
        channels = [Channel(name) for name in mix]
        weights = [mix[name] for name in mix]
        plans: list[_Plan] = []
        span = max(end - start, 1)
        for _ in range(count):
            channel = rng.choices(channels, weights)[0]
            at = start + int(rng.random() * span)
            for _ in range(50):  # more orders arrive while people work
                if rng.random() <= self._arrival_weight(at, channel):
                    break
                at = start + int(rng.random() * span)
            pool = self._by_channel.get(channel) or self.customers
            plans.append(_Plan(0, at, channel, rng.choice(pool)))
        plans.sort(key=lambda p: p.at)
        for plan in plans:
            plan.seq = self._next("order", 100000)
        return plans

    def _arrival_weight(self, at: int, channel: Channel) -> float:
        if channel is Channel.ECOMMERCE:  # shoppers order around the clock, less at night
            hour = (at % DAY) // HOUR
            return 1.0 if hour >= 12 or hour < 4 else 0.45
        return 1.0 if self._is_business(at) else 0.08

    def _units(
        self, plans: list[_Plan], until: int | None
    ) -> list[tuple[int, _Plan | tuple[Customer, int, list[_Plan]]]]:
        """Orders sorted by when their first system sees them; EDI orders grouped into files.

        A partner's file is sent when its slot closes: EDI orders of a slot still open at ``until``
        wait for a later window (live traffic), so a file holds every order of its slot.
        """
        units: list[tuple[int, _Plan | tuple[Customer, int, list[_Plan]]]] = []
        files: dict[tuple[str, int], list[_Plan]] = defaultdict(list)
        slot = self.config.edi_batch_minutes * MINUTE
        waiting, self._edi_waiting = self._edi_waiting, []
        for plan in waiting + plans:
            if plan.channel is Channel.EDI:
                files[(plan.customer.id, plan.at // slot)].append(plan)
            else:
                units.append((plan.at, plan))
        for (_, index), members in files.items():
            if until is not None and (index + 1) * slot > until:
                self._edi_waiting.extend(members)
                continue
            at = (index + 1) * slot + self._rng.randint(0, 5 * MINUTE)
            units.append((at, (members[0].customer, at, members)))
        units.sort(key=lambda u: (u[0], _unit_seq(u[1])))
        return units

    # -- helpers --------------------------------------------------------------------------------

    def _next(self, name: str, first: int) -> int:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = itertools.count(first + self.config.id_offset)
        return next(counter)

    def _trace(self) -> _Trace:
        return _Trace(f"{self._rng.getrandbits(128):032x}")

    def _span(
        self,
        trace: _Trace,
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
            span_id=f"{self._rng.getrandbits(64):016x}",
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
        self._out.append(record)
        return record

    def _secs(self, low: float, high: float) -> int:
        return int(self._rng.uniform(low, high) * SECOND)

    def _is_business(self, t: int) -> bool:
        day = t // DAY
        if (day + 3) % 7 >= 5:  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
            return False
        start, end = self.config.business_hours
        return start * HOUR <= t - day * DAY < end * HOUR

    def _open_at(self, t: int, hours: tuple[int, int] | None = None, workdays: int = 5) -> int:
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

    def _person_acts(self, after: int, mean_hours: float) -> int:
        """When a person gets to a work item queued at ``after`` (business hours only)."""
        waited = after + int(self._rng.expovariate(1 / mean_hours) * HOUR)
        return self._open_at(waited)

    def _warehouse_open(self, t: int) -> int:
        return self._open_at(t, (11, 24), workdays=6)

    def _person(self, role: str) -> str:
        return f"{role}{self._rng.randint(1, 6):02d}@distributor.example"

    def _make_customers(self) -> list[Customer]:
        rng = self._rng
        customers = []
        mix = self.config.channel_mix
        channels = [Channel(name) for name in mix if mix[name] > 0] or [Channel.ECOMMERCE]
        for i in range(self.config.customers):
            channel = channels[i % len(channels)]
            tier = rng.choices(list(CustomerTier), [0.1, 0.25, 0.65])[0]
            region = "east" if rng.random() < 0.55 else "west"
            customers.append(
                Customer(
                    id=f"C-{10001 + i}",
                    tier=tier,
                    region=region,
                    channel=channel,
                    edi_id=f"PARTNER{10001 + i}",
                    consolidated_billing=channel is Channel.EDI and rng.random() < 0.3,
                )
            )
        return customers

    def _new_order(self, plan: _Plan, po: str | None = None) -> _Order:
        self.orders_generated += 1
        customer = plan.customer
        region = customer.region
        order_id = f"SO-{plan.seq}"
        lines = 1 + min(int(self._rng.expovariate(1 / 3)), 40)
        base: Attributes = {
            c.ORDER_ID: order_id,
            c.CHANNEL: str(plan.channel),
            c.CUSTOMER_ID: customer.id,
            c.CUSTOMER_TIER: str(customer.tier),
            c.REGION: region,
        }
        return _Order(
            id=order_id,
            plan=plan,
            base=base,
            edi=plan.channel is Channel.EDI,
            po=po or f"PO-{customer.id[2:]}-{plan.seq}",
            lines=lines,
            region=region,
            erp=ERPS[region],
        )

    # -- channels -------------------------------------------------------------------------------

    def _order_from_plan(self, plan: _Plan) -> None:
        order = self._new_order(plan)
        rates = self.config.rates
        trace = self._trace()
        t = plan.at
        info: Attributes = {c.ORDER_LINE_COUNT: order.lines, c.ORDER_PRIORITY: self._priority(order)}
        if plan.channel is Channel.SALES:
            t = self._open_at(t)
            order.keys = {c.ORDER_CUSTOMER_PO: order.po}
            entry = self._span(
                trace,
                None,
                "enter sales order",
                KIND_SERVER,
                order.erp,
                t,
                self._secs(120, 900),
                {
                    **order.base,
                    **order.keys,
                    **info,
                    c.MANUAL_TOUCH: True,
                    c.ENDUSER_ID: self._person("sales"),
                },
                stage=Stage.CAPTURE,
            )
            self._erp_flow(order, trace, entry, entry.end_ns + self._secs(1, 30))
            return
        if plan.channel is Channel.ECOMMERCE:
            system, name = WEB_SHOP, "POST /checkout"
            order.keys = {c.ORDER_ECOMMERCE_ID: f"W{plan.seq + 7_000_000}"}
        else:
            system, name = B2B_PORTAL, "POST /orders"
            order.keys = {c.ORDER_CUSTOMER_PO: order.po}
        capture = self._span(
            trace,
            None,
            name,
            KIND_SERVER,
            system,
            t,
            self._secs(0.2, 2.5),
            {**order.base, **order.keys, **info},
            stage=Stage.CAPTURE,
        )
        publish = self._publish(trace, capture, system, capture.end_ns - self._secs(0.05, 0.15))
        received = publish.end_ns + self._secs(0.5, 45)
        validate = self._span(
            trace,
            publish,
            f"{QUEUE} process",
            KIND_CONSUMER,
            MIDDLEWARE,
            received,
            self._secs(0.3, 3),
            {**order.base, **order.keys, c.MESSAGING_SYSTEM: "rabbitmq", c.MESSAGING_DESTINATION: QUEUE},
            stage=Stage.VALIDATION,
        )
        if self._rng.random() < rates.duplicate:
            self._duplicate_web(order, system, name, capture.end_ns + self._secs(2, 60))
        self._erp_flow(order, trace, validate, validate.end_ns + self._secs(0.2, 5))

    def _publish(self, trace: _Trace, parent: SpanRecord, system: System, at: int) -> SpanRecord:
        return self._span(
            trace,
            parent,
            f"{QUEUE} publish",
            KIND_PRODUCER,
            system,
            at,
            self._secs(0.005, 0.05),
            {c.MESSAGING_SYSTEM: "rabbitmq", c.MESSAGING_DESTINATION: QUEUE},
        )

    def _duplicate_web(self, order: _Order, system: System, name: str, at: int) -> None:
        """The shopper (or a retrying client) submits the same order again; middleware rejects it."""
        trace = self._trace()
        capture = self._span(
            trace,
            None,
            name,
            KIND_SERVER,
            system,
            at,
            self._secs(0.2, 2),
            {
                **order.base,
                **order.keys,
                c.ORDER_LINE_COUNT: order.lines,
                c.ORDER_PRIORITY: self._priority(order),
            },
            stage=Stage.CAPTURE,
        )
        publish = self._publish(trace, capture, system, capture.end_ns - self._secs(0.05, 0.15))
        self._span(
            trace,
            publish,
            f"{QUEUE} process",
            KIND_CONSUMER,
            MIDDLEWARE,
            publish.end_ns + self._secs(0.5, 30),
            self._secs(0.2, 1),
            {
                **order.base,
                **order.keys,
                c.STATUS: "duplicate",
                c.EXCEPTION_TYPE: str(ExceptionType.DUPLICATE),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.AUTO_RESOLVED),
            },
            stage=Stage.VALIDATION,
        )

    def _edi_file(
        self, customer: Customer, at: int, plans: list[_Plan], resent: list[_Order] | None = None
    ) -> None:
        """An 850 file from a trading partner: gateway trace, middleware batch trace, order traces."""
        rng = self._rng
        rates = self.config.rates
        orders = resent if resent is not None else [self._new_order(plan) for plan in plans]
        carried = self._edi_carry.pop(customer.id, [])
        isa = f"{self._next('isa', 100000001) % 10**9:09d}"
        gs = str(self._next("gs", 200001))
        file_name = f"850_{customer.edi_id}_{datetime.fromtimestamp(at / 1e9, UTC):%Y%m%d%H%M%S}_{isa}.x12"
        envelope: Attributes = {
            c.CUSTOMER_ID: customer.id,
            c.CUSTOMER_TIER: str(customer.tier),
            c.CHANNEL: str(Channel.EDI),
            c.EDI_SENDER_ID: customer.edi_id,
            c.EDI_RECEIVER_ID: OUR_EDI_ID,
            c.EDI_INTERCHANGE_CONTROL_NUMBER: isa,
            c.EDI_GROUP_CONTROL_NUMBER: gs,
        }
        trace = self._trace()
        file_attrs: Attributes = {
            **envelope,
            c.EDI_TRANSACTION_SET: "850",
            c.BATCH_ID: file_name,
            c.BATCH_SIZE: len(orders) + len(carried),
        }
        if resent is None and rng.random() < rates.edi_envelope:
            bad = self._span(
                trace,
                None,
                "receive 850 file",
                KIND_SERVER,
                EDI_GATEWAY,
                at,
                self._secs(1, 5),
                {
                    **file_attrs,
                    c.STATUS: "rejected",
                    c.ERROR_TYPE: "isa_envelope_invalid",
                    c.EXCEPTION_TYPE: str(ExceptionType.ENVELOPE),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                },
                stage=Stage.CAPTURE,
                status=STATUS_ERROR,
                message="ISA16 component separator missing",
            )
            self._span(
                trace,
                bad,
                "send 997",
                KIND_CLIENT,
                EDI_GATEWAY,
                bad.end_ns,
                self._secs(0.5, 2),
                {
                    **envelope,
                    c.EDI_TRANSACTION_SET: "997",
                    c.BATCH_ID: file_name,
                    c.STATUS: "rejected",
                    c.EXCEPTION_TYPE: str(ExceptionType.EDI_REJECTED),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                },
                stage=Stage.ACKNOWLEDGE,
            )
            self._edi_carry[customer.id] = carried
            self._edi_file(customer, self._person_acts(bad.end_ns, 3.0), plans, resent=orders)
            return
        outcome: Attributes = {}
        ack_outcome: Attributes = {}
        if resent is not None:  # the partner fixed and resent the file: both exceptions resolve
            outcome = {
                c.EXCEPTION_TYPE: str(ExceptionType.ENVELOPE),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
            }
            ack_outcome = {
                c.EXCEPTION_TYPE: str(ExceptionType.EDI_REJECTED),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
            }
        received = self._span(
            trace,
            None,
            "receive 850 file",
            KIND_SERVER,
            EDI_GATEWAY,
            at,
            self._secs(1, 8),
            {**file_attrs, **outcome},
            stage=Stage.CAPTURE,
        )
        t = received.end_ns
        translated: list[tuple[_Order, SpanRecord, bool]] = []
        for order, duplicate in [(o, False) for o in orders] + [(o, True) for o in carried]:
            st = f"{self._next('st', 30001) % 10**9:09d}"
            if not duplicate:
                order.keys = {
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.EDI_INTERCHANGE_CONTROL_NUMBER: isa,
                    c.EDI_GROUP_CONTROL_NUMBER: gs,
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: st,
                }
            keys: Attributes = {
                **envelope,
                c.EDI_TRANSACTION_SET: "850",
                c.ORDER_CUSTOMER_PO: order.po,
                c.EDI_TRANSACTION_SET_CONTROL_NUMBER: st,
            }
            failed = not duplicate and rng.random() < rates.edi_mapping
            span = self._span(
                trace,
                received,
                "translate 850",
                KIND_INTERNAL,
                EDI_GATEWAY,
                t,
                self._secs(0.05, 0.4),
                {
                    **keys,
                    c.STATUS: "mapping_error",
                    c.ERROR_TYPE: "edi_map_missing_uom",
                    c.EXCEPTION_TYPE: str(ExceptionType.EDI_MAPPING),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                }
                if failed
                else {**keys, c.STATUS: "translated"},
                stage=Stage.CAPTURE,
                status=STATUS_ERROR if failed else STATUS_OK,
                message="PO1 unit of measure 'CA' has no mapping" if failed else "",
            )
            t = span.end_ns
            if failed:
                self._edi_reprocess(order, span, keys)
            else:
                translated.append((order, span, duplicate))
            if not duplicate and rng.random() < rates.duplicate:
                self._edi_carry[customer.id].append(order)
        self._span(
            trace,
            received,
            "send 997",
            KIND_CLIENT,
            EDI_GATEWAY,
            t,
            self._secs(0.3, 2),
            {
                **envelope,
                c.EDI_TRANSACTION_SET: "997",
                c.BATCH_ID: file_name,
                c.STATUS: "accepted",
                **ack_outcome,
            },
            stage=Stage.ACKNOWLEDGE,
        )
        if not translated:
            return
        # middleware polls the gateway's outbox; the canonical order ids exist from here on
        batch_trace = self._trace()
        picked = t + self._secs(30, 900)
        batch = self._span(
            batch_trace,
            None,
            "split 850 batch",
            KIND_CONSUMER,
            MIDDLEWARE,
            picked,
            self._secs(0.5, 2) + len(translated) * self._secs(0.01, 0.05),
            {
                c.CHANNEL: str(Channel.EDI),
                c.CUSTOMER_ID: customer.id,
                c.BATCH_ID: f"MWB-{self._next('mwb', 500001)}",
                c.BATCH_ORDER_IDS: [o.id for o, _, _ in translated],
                c.BATCH_SIZE: len(translated),
                c.EDI_INTERCHANGE_CONTROL_NUMBER: isa,
            },
            stage=Stage.VALIDATION,
            links=[received],
        )
        step = max(batch.duration_ns // max(len(translated), 1), 1000)
        for i, (order, span, duplicate) in enumerate(translated):
            start = batch.start_ns + i * step
            self._edi_order(order, span, batch, start, duplicate)

    def _edi_reprocess(self, order: _Order, failed: SpanRecord, keys: Attributes) -> None:
        """An EDI analyst fixes the map and reprocesses the transaction set; the order continues alone."""
        at = self._person_acts(failed.end_ns, 4.0)
        trace = self._trace()
        span = self._span(
            trace,
            None,
            "reprocess 850",
            KIND_INTERNAL,
            EDI_GATEWAY,
            at,
            self._secs(60, 900),
            {
                **keys,
                c.STATUS: "translated",
                c.MANUAL_TOUCH: True,
                c.ENDUSER_ID: self._person("edi"),
                c.EXCEPTION_TYPE: str(ExceptionType.EDI_MAPPING),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
            },
            stage=Stage.CAPTURE,
            links=[failed],
        )
        self._edi_order(order, span, None, span.end_ns + self._secs(30, 600), False)

    def _edi_order(
        self, order: _Order, translated: SpanRecord, batch: SpanRecord | None, at: int, duplicate: bool
    ) -> None:
        trace = self._trace()
        links = [translated] + ([batch] if batch is not None else [])
        attrs: Attributes = {**order.base, **order.keys, c.EDI_TRANSACTION_SET: "850"}
        if duplicate:
            attrs.update(
                {
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: str(
                        translated.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER]
                    ),
                    c.STATUS: "duplicate",
                    c.EXCEPTION_TYPE: str(ExceptionType.DUPLICATE),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.AUTO_RESOLVED),
                }
            )
        canonical = self._span(
            trace,
            None,
            "map canonical order",
            KIND_CONSUMER,
            MIDDLEWARE,
            at,
            self._secs(0.2, 2),
            {**attrs, c.ORDER_LINE_COUNT: order.lines, c.ORDER_PRIORITY: self._priority(order)},
            stage=Stage.VALIDATION,
            links=links,
        )
        if duplicate:
            return
        self._erp_flow(order, trace, canonical, canonical.end_ns + self._secs(0.5, 20))

    def _priority(self, order: _Order) -> str:
        expedite = order.plan.customer.tier is CustomerTier.STRATEGIC and order.plan.seq % 5 == 0
        return "expedite" if expedite else "standard"

    # -- ERP, warehouse, carriers, finance -------------------------------------------------------

    def _erp_flow(self, order: _Order, trace: _Trace, parent: SpanRecord, t: int) -> None:
        rng = self._rng
        rates = self.config.rates
        erp = order.erp
        base = {**order.base, **order.keys}
        if parent.service_name == MIDDLEWARE.instance:
            parent = self._span(
                trace,
                parent,
                "POST /salesorders",
                KIND_CLIENT,
                MIDDLEWARE,
                t - self._secs(0.01, 0.1),
                self._secs(0.1, 0.5),
                {c.ORDER_ID: order.id},
            )
        held = rng.random() < rates.credit_hold
        credit = self._span(
            trace,
            parent,
            "credit check",
            KIND_SERVER,
            erp,
            t,
            self._secs(0.2, 2),
            {
                **base,
                c.STATUS: "held",
                c.EXCEPTION_TYPE: str(ExceptionType.CREDIT_HOLD),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
            }
            if held
            else {**base, c.STATUS: "approved"},
            stage=Stage.CREDIT,
        )
        last = credit
        if held:
            cancelled = rng.random() < 0.05
            last = self._span(
                trace,
                credit,
                "credit review",
                KIND_INTERNAL,
                erp,
                self._person_acts(credit.end_ns, 3.0),
                self._secs(120, 1800),
                {
                    **base,
                    c.MANUAL_TOUCH: True,
                    c.ENDUSER_ID: self._person("credit"),
                    c.STATUS: "cancelled" if cancelled else "released",
                    c.EXCEPTION_TYPE: str(ExceptionType.CREDIT_HOLD),
                    c.EXCEPTION_OUTCOME: str(
                        ExceptionOutcome.CANCELLED if cancelled else ExceptionOutcome.RESOLVED
                    ),
                },
                stage=Stage.CREDIT,
            )
            if cancelled:
                return
        exception = rng.random() < rates.pricing
        pricing = self._span(
            trace,
            last,
            "price order",
            KIND_INTERNAL,
            erp,
            last.end_ns + self._secs(0.5, 30),
            self._secs(0.2, 3),
            {
                **base,
                c.STATUS: "price_exception" if exception else "priced",
                **(
                    {
                        c.EXCEPTION_TYPE: str(ExceptionType.PRICING),
                        c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    }
                    if exception
                    else {}
                ),
            },
            stage=Stage.PRICING,
        )
        last = pricing
        if exception:
            last = self._span(
                trace,
                pricing,
                "pricing override",
                KIND_INTERNAL,
                erp,
                self._person_acts(pricing.end_ns, 2.0),
                self._secs(120, 1200),
                {
                    **base,
                    c.MANUAL_TOUCH: True,
                    c.ENDUSER_ID: self._person("pricing"),
                    c.STATUS: "priced",
                    c.EXCEPTION_TYPE: str(ExceptionType.PRICING),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                },
                stage=Stage.PRICING,
            )
        if order.edi:
            self._span(
                trace,
                last,
                "send 855",
                KIND_CLIENT,
                EDI_GATEWAY,
                last.end_ns + self._secs(5, 300),
                self._secs(0.5, 3),
                {
                    **order.base,
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.EDI_TRANSACTION_SET: "855",
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: f"{self._next('st', 30001) % 10**9:09d}",
                    c.EDI_SENDER_ID: OUR_EDI_ID,
                    c.EDI_RECEIVER_ID: order.plan.customer.edi_id,
                    c.STATUS: "accepted",
                },
                stage=Stage.ACKNOWLEDGE,
            )
        warehouse = rng.choice(WAREHOUSES[order.region])
        alloc_at = last.end_ns + self._secs(1, 120)
        stockout = rng.random() < rates.stockout
        split = stockout and order.lines > 1 and rng.random() < rates.split_shipment
        alloc_attrs: Attributes = {**base, c.WAREHOUSE_ID: warehouse, c.STATUS: "allocated"}
        if split:
            alloc_attrs.update(
                {
                    c.STATUS: "partially_allocated",
                    c.EXCEPTION_TYPE: str(ExceptionType.BACKORDER),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                }
            )
        elif stockout:
            alloc_attrs.update(
                {
                    c.STATUS: "backordered",
                    c.EXCEPTION_TYPE: str(ExceptionType.STOCKOUT),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                }
            )
        alloc = self._span(
            trace,
            last,
            "allocate inventory",
            KIND_INTERNAL,
            erp,
            alloc_at,
            self._secs(0.3, 4),
            alloc_attrs,
            stage=Stage.ALLOCATION,
        )
        shipments: list[tuple[SpanRecord, int]] = []
        if split:
            first = max(1, order.lines // 2)
            shipments.append((alloc, first))
        if stockout:
            restock = alloc.end_ns + int(rng.uniform(1, 6) * DAY)
            if not split and rng.random() < rates.backorder_cancel:
                self._span(
                    trace,
                    alloc,
                    "cancel order",
                    KIND_INTERNAL,
                    erp,
                    self._person_acts(max(alloc.end_ns + HOUR, restock - 2 * DAY), 1.0),
                    self._secs(60, 600),
                    {
                        **base,
                        c.MANUAL_TOUCH: True,
                        c.ENDUSER_ID: self._person("service"),
                        c.STATUS: "cancelled",
                        c.EXCEPTION_TYPE: str(ExceptionType.STOCKOUT),
                        c.EXCEPTION_OUTCOME: str(ExceptionOutcome.CANCELLED),
                    },
                    stage=Stage.ALLOCATION,
                )
                return
            realloc = self._span(
                trace,
                alloc,
                "allocate backorder",
                KIND_INTERNAL,
                erp,
                restock,
                self._secs(0.3, 4),
                {
                    **base,
                    c.WAREHOUSE_ID: warehouse,
                    c.STATUS: "allocated",
                    c.EXCEPTION_TYPE: str(ExceptionType.BACKORDER if split else ExceptionType.STOCKOUT),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.AUTO_RESOLVED),
                },
                stage=Stage.ALLOCATION,
            )
            shipments.append((realloc, order.lines - (max(1, order.lines // 2) if split else 0)))
        else:
            shipments.append((alloc, order.lines))
        shipped = [self._shipment(order, released, warehouse, lines) for released, lines in shipments]
        self._queue_invoice(order, max(shipped))

    def _shipment(self, order: _Order, released: SpanRecord, warehouse: str, lines: int) -> int:
        """Pick, pack and ship one shipment in the WMS, then the carrier; returns the pickup time."""
        rng = self._rng
        rates = self.config.rates
        shipment_id = f"SH-{self._next('shipment', 400001)}"
        base = {**order.base, c.WAREHOUSE_ID: warehouse, c.SHIPMENT_ID: shipment_id}
        # the WMS polls released orders every 15 minutes: a new trace, linked to the allocation
        wave = (released.end_ns // (15 * MINUTE) + 1) * 15 * MINUTE
        trace = self._trace()
        if rng.random() < rates.malformed:
            self._malformed(trace, warehouse, wave)
        pick = self._span(
            trace,
            None,
            "pick",
            KIND_INTERNAL,
            WMS,
            self._warehouse_open(wave + self._secs(0, 3600)),
            self._secs(300, 600) + lines * self._secs(30, 240),
            {**base, c.ORDER_LINE_COUNT: lines, c.STATUS: "picked"},
            stage=Stage.PICK,
            links=[released],
        )
        pack = self._span(
            trace,
            pick,
            "pack",
            KIND_INTERNAL,
            WMS,
            self._warehouse_open(pick.end_ns + self._secs(60, 3600)),
            self._secs(180, 1200),
            {**base, c.STATUS: "packed"},
            stage=Stage.PACK,
        )
        expedite = self._priority(order) == "expedite"
        carrier = "fedex" if expedite else "xpo" if lines > 12 else rng.choice(("ups", "fedex"))
        tracking = _tracking_number(rng, carrier)
        ship_keys = {c.SHIPMENT_CARRIER: carrier, c.SHIPMENT_TRACKING_NUMBER: tracking}
        tender = self._span(
            trace,
            pack,
            "rate and tender",
            KIND_SERVER,
            TMS,
            pack.end_ns + self._secs(5, 120),
            self._secs(1, 6),
            {**base, **ship_keys, c.STATUS: "tendered"},
            stage=Stage.SHIP,
        )
        # carriers pick up at 22:00 UTC; parcels packed after 21:00 wait for the next day
        day = tender.end_ns // DAY
        pickup = day * DAY + 22 * HOUR
        if tender.end_ns > pickup - HOUR:
            pickup += DAY
        pickup = self._open_at(pickup, (22, 24), workdays=6)
        confirm = self._span(
            trace,
            tender,
            "ship confirm",
            KIND_INTERNAL,
            WMS,
            pickup - self._secs(600, 1800),
            self._secs(1, 10),
            {**base, **ship_keys, c.STATUS: "shipped"},
            stage=Stage.SHIP,
        )
        if order.edi:
            self._span(
                trace,
                confirm,
                "send 856",
                KIND_CLIENT,
                EDI_GATEWAY,
                confirm.end_ns + self._secs(30, 900),
                self._secs(0.5, 3),
                {
                    **order.base,
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.SHIPMENT_ID: shipment_id,
                    **ship_keys,
                    c.EDI_TRANSACTION_SET: "856",
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: f"{self._next('st', 30001) % 10**9:09d}",
                    c.EDI_SENDER_ID: OUR_EDI_ID,
                    c.EDI_RECEIVER_ID: order.plan.customer.edi_id,
                    c.STATUS: "sent",
                },
                stage=Stage.SHIP,
            )
        delayed = rng.random() < rates.carrier_delay
        delay: Attributes = {}
        if delayed:
            self._span(
                trace,
                confirm,
                "pickup missed",
                KIND_INTERNAL,
                TMS,
                pickup + HOUR,
                self._secs(1, 5),
                {
                    **base,
                    **ship_keys,
                    c.STATUS: "pickup_missed",
                    c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_DELAY),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                },
                stage=Stage.SHIP,
            )
            pickup += DAY + self._secs(0, 3 * 3600)
            delay = {
                c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_DELAY),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
            }
        # the carrier's events arrive by webhook: a new trace, linked to the ship confirmation
        system = CARRIERS[carrier]
        ctrace = self._trace()
        picked = self._span(
            ctrace,
            None,
            "pickup scan",
            KIND_SERVER,
            system,
            pickup,
            self._secs(1, 20),
            {**base, **ship_keys, c.STATUS: "picked_up", **delay},
            stage=Stage.SHIP,
            links=[confirm],
        )
        if expedite:  # next-day air
            transit_days = rng.uniform(0.5, 1.2)
        else:
            transit_days = rng.uniform(2, 6) if carrier == "xpo" else rng.uniform(0.6, 3.5)
        delivered_at = self._open_at(picked.end_ns + int(transit_days * DAY), (13, 23), workdays=6)
        delivery_attrs: Attributes = {**base, **ship_keys, c.STATUS: "delivered"}
        if rng.random() < rates.carrier_exception:
            self._span(
                ctrace,
                picked,
                "delivery exception",
                KIND_SERVER,
                system,
                picked.end_ns + (delivered_at - picked.end_ns) // 2,
                self._secs(1, 10),
                {
                    **base,
                    **ship_keys,
                    c.STATUS: "exception",
                    c.ERROR_TYPE: "address_not_found",
                    c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_EXCEPTION),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                },
                stage=Stage.DELIVER,
                status=STATUS_ERROR,
                message="consignee address not found",
            )
            delivered_at = self._open_at(delivered_at + DAY, (13, 23), workdays=6)
            delivery_attrs.update(
                {
                    c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_EXCEPTION),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                }
            )
        scans = [
            SpanEventRecord(
                "carrier.scan",
                picked.end_ns + (delivered_at - picked.end_ns) * k // 3,
                {c.STATUS: "in_transit"},
            )
            for k in (1, 2)
        ]
        self._span(
            ctrace,
            picked,
            "delivery",
            KIND_SERVER,
            system,
            picked.end_ns,
            delivered_at - picked.end_ns,
            delivery_attrs,
            stage=Stage.DELIVER,
            events=scans,
        )
        return pickup

    def _malformed(self, trace: _Trace, warehouse: str, at: int) -> None:
        """A legacy poller's span without an order id or keys and with a stage nobody defined."""
        from tracing.instrument import check_attributes

        attrs: Attributes = {
            c.STAGE: "replenish",
            c.SYSTEM_KIND: str(SystemKind.WMS),
            c.SYSTEM_INSTANCE: WMS.instance,
            c.WAREHOUSE_ID: warehouse,
        }
        problems = check_attributes(attrs)
        attrs[c.CONVENTION_VIOLATIONS] = problems
        self._span(trace, None, "inventory sync", KIND_INTERNAL, WMS, at, self._secs(1, 30), attrs)

    def _queue_invoice(self, order: _Order, shipped_at: int) -> None:
        """Invoices are posted by the finance ERP's nightly run (02:00 UTC) after the ship day."""
        run = (shipped_at // DAY + 1) * DAY + 2 * HOUR
        self._invoice_runs[run][order.plan.customer].append(order)

    def _invoice_run(self, run: int, by_customer: Mapping[Customer, list[_Order]]) -> None:
        """One night's invoicing, in runs of at most ``INVOICE_RUN_MAX`` orders each."""
        parts: list[dict[Customer, list[_Order]]] = [{}]
        size = 0
        for customer, orders in by_customer.items():
            for i in range(0, len(orders), INVOICE_RUN_MAX):
                chunk = orders[i : i + INVOICE_RUN_MAX]
                if size and size + len(chunk) > INVOICE_RUN_MAX:
                    parts.append({})
                    size = 0
                parts[-1].setdefault(customer, []).extend(chunk)
                size += len(chunk)
        for part in parts:
            self._invoice_part(run, part)

    def _invoice_part(self, run: int, by_customer: Mapping[Customer, list[_Order]]) -> None:
        rng = self._rng
        rates = self.config.rates
        order_ids = [o.id for orders in by_customer.values() for o in orders]
        trace = self._trace()
        root = self._span(
            trace,
            None,
            "invoice run",
            KIND_INTERNAL,
            FINANCE,
            run,
            self._secs(5, 20) + len(order_ids) * SECOND // 20,
            {
                c.BATCH_ID: f"INVRUN-{datetime.fromtimestamp(run / 1e9, UTC):%Y%m%d}-{self._next('invrun', 1)}",
                c.BATCH_ORDER_IDS: order_ids,
                c.BATCH_SIZE: len(order_ids),
            },
            stage=Stage.INVOICE,
        )
        t = root.start_ns + self._secs(1, 3)
        for customer, orders in by_customer.items():
            groups = [orders] if customer.consolidated_billing else [[o] for o in orders]
            for group in groups:
                invoice_id = f"INV-{self._next('invoice', 900001)}"
                attrs: Attributes = {
                    c.INVOICE_ID: invoice_id,
                    c.CUSTOMER_ID: customer.id,
                    c.CUSTOMER_TIER: str(customer.tier),
                    c.CHANNEL: str(group[0].plan.channel),
                    c.REGION: customer.region,
                }
                if len(group) == 1:
                    attrs[c.ORDER_ID] = group[0].id
                else:
                    attrs.update(
                        {
                            c.BATCH_ID: invoice_id,
                            c.BATCH_ORDER_IDS: [o.id for o in group],
                            c.BATCH_SIZE: len(group),
                        }
                    )
                late = rng.random() < rates.late_invoice
                posted = self._span(
                    trace,
                    root,
                    "post invoice",
                    KIND_INTERNAL,
                    FINANCE,
                    t,
                    self._secs(0.05, 0.4),
                    {
                        **attrs,
                        c.STATUS: "failed",
                        c.ERROR_TYPE: "tax_jurisdiction_missing",
                        c.EXCEPTION_TYPE: str(ExceptionType.INVOICE),
                        c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    }
                    if late
                    else {**attrs, c.STATUS: "invoiced"},
                    stage=Stage.INVOICE,
                    status=STATUS_ERROR if late else STATUS_OK,
                    message="tax jurisdiction missing for ship-to" if late else "",
                )
                t = posted.end_ns
                if late:
                    rtrace = self._trace()
                    posted = self._span(
                        rtrace,
                        None,
                        "repost invoice",
                        KIND_INTERNAL,
                        FINANCE,
                        self._person_acts(posted.end_ns + DAY * rng.randint(0, 2), 6.0),
                        self._secs(120, 900),
                        {
                            **attrs,
                            c.STATUS: "invoiced",
                            c.MANUAL_TOUCH: True,
                            c.ENDUSER_ID: self._person("ar"),
                            c.EXCEPTION_TYPE: str(ExceptionType.INVOICE),
                            c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                        },
                        stage=Stage.INVOICE,
                        links=[posted],
                    )
                    parent_trace = rtrace
                else:
                    parent_trace = trace
                if group[0].edi:
                    self._span(
                        parent_trace,
                        posted,
                        "send 810",
                        KIND_CLIENT,
                        EDI_GATEWAY,
                        posted.end_ns + self._secs(60, 1800),
                        self._secs(0.5, 3),
                        {
                            **attrs,
                            c.EDI_TRANSACTION_SET: "810",
                            c.EDI_TRANSACTION_SET_CONTROL_NUMBER: f"{self._next('st', 30001) % 10**9:09d}",
                            c.EDI_SENDER_ID: OUR_EDI_ID,
                            c.EDI_RECEIVER_ID: customer.edi_id,
                            c.STATUS: "sent",
                        },
                        stage=Stage.INVOICE,
                    )


def _unit_seq(unit: _Plan | tuple[Customer, int, list[_Plan]]) -> int:
    return unit[2][0].seq if isinstance(unit, tuple) else unit.seq


def _tracking_number(rng: random.Random, carrier: str) -> str:
    if carrier == "ups":
        return "1Z" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=16))
    if carrier == "fedex":
        return "".join(rng.choices("0123456789", k=12))
    return "PRO" + "".join(rng.choices("0123456789", k=10))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    count, t = 0, rng.expovariate(1.0)
    while t < mean:
        count += 1
        t += rng.expovariate(1.0)
    return count
