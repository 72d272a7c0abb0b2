"""The simulator: plans orders over a time window (who, when, what) and runs them through the network."""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from tracing.conventions import Channel
from tracing.records import SpanRecord
from tracing.simulator.catalog import Customer, make_catalog, make_customers, order_content, po_variant, spike
from tracing.simulator.channels import Channels
from tracing.simulator.config import DAY, HOUR, MINUTE, SimulatorConfig
from tracing.simulator.finance import Finance
from tracing.simulator.fulfilment import Fulfilment
from tracing.simulator.orders import Plan
from tracing.simulator.truth import GroundTruth
from tracing.simulator.world import World

CHUNK_ORDERS = 20_000  # orders planned at once when generating history
RESUBMIT_WITHIN = 60 * HOUR  # how far back a re-submitted order's original lies, at most
SURGE_SHARE = 0.15  # share of days with a demand surge (promotions, month end)
SURGE_FACTOR = 1.7
# a re-submission comes through another channel (or another file) than the original
_RESUBMIT_CHANNEL = {
    Channel.EDI: (Channel.PORTAL, Channel.EDI),
    Channel.PORTAL: (Channel.SALES, Channel.PORTAL),
    Channel.SALES: (Channel.PORTAL,),
    Channel.ECOMMERCE: (Channel.ECOMMERCE,),
}


@dataclass(order=True)
class _Due:
    end_ns: int
    seq: int
    record: SpanRecord = field(compare=False)


class Simulator:
    """Generates span records for the configured distributor; deterministic for a given config.

    ``generate()`` yields every span of the history window (spans of in-flight orders may end after
    ``end``). ``backfill()`` and ``advance()`` instead release spans only once they have ended, for a
    feed that continues live. Pass ``truth`` to collect the ground truth (:mod:`.truth`) on the side.
    """

    def __init__(self, config: SimulatorConfig | None = None, truth: GroundTruth | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.truth = truth
        self._world = World(self.config, truth)
        rng = self._world.rng
        mix = self.config.channel_mix
        channels = [Channel(name) for name in mix if mix[name] > 0] or [Channel.ECOMMERCE]
        self.catalog = make_catalog(rng)
        self.customers = make_customers(rng, self.config.customers, channels, self.catalog)
        self._by_channel: dict[Channel, list[Customer]] = defaultdict(list)
        for customer in self.customers:
            self._by_channel[customer.channel].append(customer)
        self._finance = Finance(self._world, self.catalog)
        self._fulfilment = Fulfilment(self._world, self.catalog, self._finance)
        self._channels = Channels(self._world, self.catalog, self._fulfilment)
        self._recent: deque[Plan] = deque()  # orders of the last RESUBMIT_WITHIN, by capture time
        self._edi_waiting: list[Plan] = []  # EDI orders whose partner's file has not been sent yet
        self._seq = itertools.count()
        self._pending: list[_Due] = []
        self._generated_until: int | None = None

    @property
    def orders_generated(self) -> int:
        return self._channels.orders_generated

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
            mean = self.config.live_orders_per_hour * (now - since) / HOUR * self._surge(since)
            count = _poisson(self._world.rng, mean)
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
        with more orders in busier chunks (weekdays, business hours, surge days)."""
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
        return weight / points * (end - start) * self._surge(start + (end - start) // 2)

    def _surge(self, t: int) -> float:
        """Some days bring far more orders than usual (a promotion, month end)."""
        day = t // DAY
        draw = random.Random(f"{self.config.seed}:surge:{day}").random()
        return SURGE_FACTOR if draw < SURGE_SHARE else 1.0

    def _push(self, record: SpanRecord) -> None:
        heapq.heappush(self._pending, _Due(record.end_ns, next(self._seq), record))

    def _window(self, start: int, end: int, count: int, flush_until: int | None) -> Iterator[SpanRecord]:
        world = self._world
        self._fulfilment.warehouses.observe(count, end - start)
        plans = self._plans(start, end, count)
        units = self._units(plans, flush_until)
        finance = self._finance
        for at, unit in units:
            if isinstance(unit, tuple):
                self._channels.edi_file(*unit)
            else:
                self._channels.order_from_plan(unit)
            if len(world.out) >= 512:
                yield from self._drain()
            # invoice runs whose cut-off has passed can no longer gain orders
            ready = [run for run in finance.runs if run <= at]
            for run in sorted(ready):
                finance.run(run, finance.runs.pop(run))
        for run in sorted(finance.runs):
            if flush_until is None or run <= flush_until:
                finance.run(run, finance.runs.pop(run))
        yield from self._drain()

    def _drain(self) -> list[SpanRecord]:
        world = self._world
        out, world.out = world.out, []
        return out

    def _plans(self, start: int, end: int, count: int) -> list[Plan]:
        world = self._world
        rng = world.rng
        mix = self.config.channel_mix
        channels = [Channel(name) for name in mix]
        weights = [mix[name] for name in mix]
        plans: list[Plan] = []
        span = max(end - start, 1)
        for _ in range(count):
            channel = rng.choices(channels, weights)[0]
            at = start + int(rng.random() * span)
            for _ in range(50):  # more orders arrive while people work
                if rng.random() <= self._arrival_weight(at, channel):
                    break
                at = start + int(rng.random() * span)
            pool = self._by_channel.get(channel) or self.customers
            plans.append(Plan(0, at, channel, rng.choice(pool)))
        plans.sort(key=lambda p: p.at)
        rates = self.config.rates
        for plan in plans:
            plan.seq = world.next("order", 100000)
            if not self._resubmit(plan, rng.random() < rates.resubmission):
                plan.content = order_content(rng, plan.customer, self.catalog)
                if rng.random() < rates.quantity_spike:
                    plan.content, plan.spike = spike(rng, plan.content)
            self._remember(plan)
        return plans

    def _resubmit(self, plan: Plan, wanted: bool) -> bool:
        """Make ``plan`` a second submission of a recent order (another channel or file), if any."""
        if not wanted or not self._recent:
            return False
        rng = self._world.rng
        if plan.channel is Channel.ECOMMERCE:  # a shopper who thought the checkout failed tries again
            gap = int(rng.expovariate(1 / (20 * MINUTE))) + MINUTE
        else:  # a buyer re-keys an order they think did not arrive, a partner re-issues a file
            gap = int(min(rng.expovariate(1 / (8 * HOUR)), RESUBMIT_WITHIN - HOUR)) + 10 * MINUTE
        times = [p.at for p in self._recent]
        index = bisect.bisect_right(times, plan.at - gap) - 1
        if index < 0:
            return False
        web = plan.channel is Channel.ECOMMERCE  # shoppers re-submit web orders, buyers the others
        while index >= 0 and (self._recent[index].channel is Channel.ECOMMERCE) != web:
            index -= 1
        if index < 0:
            return False
        original = self._recent[index]
        if original.duplicate_of or original.content is None:
            return False
        plan.customer = original.customer
        plan.channel = rng.choice(_RESUBMIT_CHANNEL[original.channel])
        plan.content = original.content.copy()
        plan.duplicate_of = original.order_id
        plan.po = po_variant(rng, original.po or f"PO-{original.customer.id[2:]}-{original.seq}")
        return True

    def _remember(self, plan: Plan) -> None:
        if not plan.po:
            plan.po = f"PO-{plan.customer.id[2:]}-{plan.seq}"
        self._recent.append(plan)
        while self._recent and self._recent[0].at < plan.at - RESUBMIT_WITHIN:
            self._recent.popleft()

    def _arrival_weight(self, at: int, channel: Channel) -> float:
        if channel is Channel.ECOMMERCE:  # shoppers order around the clock, less at night
            hour = (at % DAY) // HOUR
            return 1.0 if hour >= 12 or hour < 4 else 0.45
        return 1.0 if self._world.is_business(at) else 0.08

    def _units(
        self, plans: list[Plan], until: int | None
    ) -> list[tuple[int, Plan | tuple[Customer, int, list[Plan]]]]:
        """Orders sorted by when their first system sees them; EDI orders grouped into files.

        A partner's file is sent when its slot closes: EDI orders of a slot still open at ``until``
        wait for a later window (live traffic), so a file holds every order of its slot.
        """
        units: list[tuple[int, Plan | tuple[Customer, int, list[Plan]]]] = []
        files: dict[tuple[str, int], list[Plan]] = defaultdict(list)
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
            at = (index + 1) * slot + self._world.rng.randint(0, 5 * MINUTE)
            units.append((at, (members[0].customer, at, members)))
        units.sort(key=lambda u: (u[0], _unit_seq(u[1])))
        return units


def _unit_seq(unit: Plan | tuple[Customer, int, list[Plan]]) -> int:
    return unit[2][0].seq if isinstance(unit, tuple) else unit.seq


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


__all__ = ["CHUNK_ORDERS", "Simulator"]
