"""An order inside the simulation, before and while its spans are made (never sent as such)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracing.conventions import Channel, CustomerTier
from tracing.records import Attributes
from tracing.simulator.catalog import Customer, OrderContent
from tracing.simulator.network import System


@dataclass
class Plan:
    """An order before it is generated: who, when, how, what."""

    seq: int
    at: int
    channel: Channel
    customer: Customer
    content: OrderContent | None = None
    po: str = ""
    duplicate_of: str = ""  # order id this plan re-submits
    spike: str = ""

    @property
    def order_id(self) -> str:
        return f"SO-{self.seq}"


@dataclass
class Order:
    id: str
    plan: Plan
    base: Attributes
    edi: bool
    po: str
    lines: int
    region: str
    erp: System
    content: OrderContent
    keys: Attributes = field(default_factory=dict)  # external keys carried by later hops


def priority(order: Order) -> str:
    """Every fifth order of a strategic customer is expedited."""
    expedite = order.plan.customer.tier is CustomerTier.STRATEGIC and order.plan.seq % 5 == 0
    return "expedite" if expedite else "standard"
