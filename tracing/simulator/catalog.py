"""What the distributor sells and to whom: products, customers with their usual baskets, order lines."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from tracing.conventions import Channel, CreditTier, CustomerTier
from tracing.simulator.network import FAMILIES

CATALOG_SIZE = 400
CURRENCY = "USD"
_TIER_DISCOUNT = {CustomerTier.STRATEGIC: 0.15, CustomerTier.KEY: 0.08, CustomerTier.STANDARD: 0.0}
_TIER_VOLUME = {CustomerTier.STRATEGIC: 3.0, CustomerTier.KEY: 1.8, CustomerTier.STANDARD: 1.0}
_CREDIT_BY_TIER = {
    CustomerTier.STRATEGIC: (0.6, 0.3, 0.1, 0.0),
    CustomerTier.KEY: (0.35, 0.4, 0.2, 0.05),
    CustomerTier.STANDARD: (0.2, 0.4, 0.25, 0.15),
}


@dataclass(frozen=True)
class Sku:
    code: str
    family: int  # index into network.FAMILIES
    price: float


@dataclass(frozen=True)
class Customer:
    id: str
    tier: CustomerTier
    region: str
    channel: Channel
    edi_id: str  # ISA sender id for EDI trading partners
    consolidated_billing: bool
    credit_tier: CreditTier = CreditTier.B
    basket: tuple[tuple[int, float], ...] = ()  # (catalog index, usual quantity) of what they buy
    standing: int = 0  # lines of the standing order they repeat (0: none)
    discount: float = 0.0


@dataclass
class OrderContent:
    """The order's lines: catalog indexes, quantities and unit prices."""

    items: list[int]
    quantities: list[int]
    prices: list[float]

    @property
    def lines(self) -> int:
        return len(self.items)

    @property
    def quantity(self) -> int:
        return sum(self.quantities)

    @property
    def amount(self) -> float:
        return round(sum(q * p for q, p in zip(self.quantities, self.prices, strict=True)), 2)

    def copy(self) -> OrderContent:
        return OrderContent(list(self.items), list(self.quantities), list(self.prices))


def make_catalog(rng: random.Random, size: int = CATALOG_SIZE) -> list[Sku]:
    skus = []
    for i in range(size):
        family = i % len(FAMILIES)
        price = round(math.exp(rng.gauss(math.log(18.0), 1.1)), 2)
        skus.append(Sku(f"{FAMILIES[family][:3].upper()}-{10000 + i * 7}", family, max(price, 0.5)))
    return skus


def make_customers(
    rng: random.Random, count: int, channels: list[Channel], catalog: list[Sku]
) -> list[Customer]:
    customers = []
    by_family: list[list[int]] = [[] for _ in FAMILIES]
    for index, sku in enumerate(catalog):
        by_family[sku.family].append(index)
    for i in range(count):
        channel = channels[i % len(channels)]
        tier = rng.choices(list(CustomerTier), [0.1, 0.25, 0.65])[0]
        region = "east" if rng.random() < 0.55 else "west"
        credit = rng.choices(list(CreditTier), _CREDIT_BY_TIER[tier])[0]
        # most customers buy mainly from one or two product families
        main = rng.sample(range(len(FAMILIES)), 2)
        weights = [4.0 if f == main[0] else 2.0 if f == main[1] else 0.4 for f in range(len(FAMILIES))]
        basket: list[tuple[int, float]] = []
        seen: set[int] = set()
        for _ in range(rng.randint(6, 16)):
            family = rng.choices(range(len(FAMILIES)), weights)[0]
            item = rng.choice(by_family[family])
            if item in seen:
                continue
            seen.add(item)
            usual = math.exp(rng.gauss(math.log(6.0 * _TIER_VOLUME[tier]), 0.9))
            basket.append((item, max(usual, 1.0)))
        customers.append(
            Customer(
                id=f"C-{10001 + i}",
                tier=tier,
                region=region,
                channel=channel,
                edi_id=f"PARTNER{10001 + i}",
                consolidated_billing=channel is Channel.EDI and rng.random() < 0.3,
                credit_tier=credit,
                basket=tuple(basket),
                standing=rng.randint(3, min(6, len(basket))) if rng.random() < 0.25 else 0,
                discount=_TIER_DISCOUNT[tier],
            )
        )
    return customers


def order_content(rng: random.Random, customer: Customer, catalog: list[Sku]) -> OrderContent:
    """A usual order: lines from the customer's basket (a standing order half the time, if they have
    one), quantities around their usual ones; now and then a promotion doubles or triples them."""
    if customer.standing and rng.random() < 0.5:
        chosen = list(customer.basket[: customer.standing])
        spread = 0.12
    else:
        lines = 1 + min(int(rng.expovariate(1 / 3)), 40)
        pool = list(customer.basket)
        rng.shuffle(pool)
        chosen = pool[:lines]
        while len(chosen) < lines:  # a big order reaches beyond the usual basket
            item = rng.randrange(len(catalog))
            if all(item != i for i, _ in chosen):
                chosen.append((item, math.exp(rng.gauss(math.log(4.0), 0.8))))
        spread = 0.3
    promotion = rng.uniform(2.0, 3.0) if rng.random() < 0.03 else 1.0
    quantities = [max(1, round(usual * promotion * math.exp(rng.gauss(0.0, spread)))) for _, usual in chosen]
    items = [i for i, _ in chosen]
    return OrderContent(
        items, quantities, [round(catalog[i].price * (1 - customer.discount), 2) for i in items]
    )


def spike(rng: random.Random, content: OrderContent) -> tuple[OrderContent, str]:
    """A fat-fingered or runaway order: one line (or, now and then, every line) far above usual.
    Returns the spiked content and which kind of spike it is ("line" or "order")."""
    spiked = content.copy()
    if rng.random() < 0.3:
        factor = rng.uniform(6.0, 12.0)
        spiked.quantities = [max(q + 5, round(q * factor)) for q in spiked.quantities]
        return spiked, "order"
    line = rng.randrange(spiked.lines)
    factor = rng.choice((10.0, 10.0, 10.0, 100.0)) if rng.random() < 0.6 else rng.uniform(8.0, 30.0)
    spiked.quantities[line] = max(spiked.quantities[line] + 10, round(spiked.quantities[line] * factor))
    return spiked, "line"


def po_variant(rng: random.Random, po: str) -> str:
    """The same purchase-order number as a person re-keys it or a partner re-issues it."""
    digits = po.removeprefix("PO-")
    return rng.choice(
        (
            digits,
            "PO" + digits.replace("-", ""),
            po + "-R",
            po + "A",
            po.replace("-", "/"),
            po.lower(),
            po + "-2",
        )
    )
