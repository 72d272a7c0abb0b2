"""What to simulate: the exception rates and the simulator's configuration, validated on creation."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from tracing.conventions import Channel

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_ORDERS = 100_000_000


@dataclass(frozen=True)
class ExceptionRates:
    """Probabilities (0..1) of each exception; per order unless noted.

    Rates are averages: customers' credit tiers, warehouses' stock and carriers' reliability make
    some orders likelier than others (odds scaled around the rate, so 0 stays 0 and 1 stays 1).
    """

    credit_hold: float = 0.04
    pricing: float = 0.05
    stockout: float = 0.06
    split_shipment: float = 0.5  # share of stockouts shipped in two parts instead of fully backordered
    backorder_cancel: float = 0.1  # share of full backorders the customer cancels
    edi_mapping: float = 0.03  # per EDI purchase order
    edi_envelope: float = 0.01  # per EDI file: envelope rejected, partner resends
    carrier_delay: float = 0.05  # per shipment
    carrier_exception: float = 0.01  # per shipment
    duplicate: float = 0.01  # resubmissions middleware recognises (same web id / PO) and drops
    resubmission: float = 0.01  # the same order again through another channel or file, not recognised
    quantity_spike: float = 0.005  # an order line far above the customer's usual quantity
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

    @property
    def orders_per_hour(self) -> float:
        """The average order rate of the history window (or of live traffic, when higher)."""
        return max(
            self.orders / (self.days * 24), self.live_orders_per_hour if self.orders == 0 else 0.0, 0.01
        )


def odds(rate: float, factor: float) -> float:
    """``rate`` with its odds multiplied by ``factor``: 0 stays 0, 1 stays 1, monotone in both."""
    if rate <= 0.0 or factor <= 0.0:
        return 0.0
    if rate >= 1.0:
        return 1.0
    scaled = rate * factor
    return scaled / (1.0 - rate + scaled)
