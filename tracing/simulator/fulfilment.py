"""The ERP flow (credit, pricing, allocation), the warehouses' picking capacity, shipping and carriers."""

from __future__ import annotations

from tracing import conventions as c
from tracing.conventions import CreditTier, ExceptionOutcome, ExceptionType, RootCause, Stage, SystemKind
from tracing.records import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    Attributes,
    SpanEventRecord,
    SpanRecord,
)
from tracing.simulator.catalog import Sku
from tracing.simulator.config import DAY, HOUR, MINUTE, odds
from tracing.simulator.finance import Finance
from tracing.simulator.messages import exception_text, recorded_cause
from tracing.simulator.network import (
    CARRIER_DELAY,
    CARRIERS,
    EDI_GATEWAY,
    MIDDLEWARE,
    OUR_EDI_ID,
    PRIMARY_SHARE,
    TMS,
    WAREHOUSE_PROFILES,
    WAREHOUSES,
    WMS,
)
from tracing.simulator.orders import Order, priority
from tracing.simulator.truth import ExceptionTruth
from tracing.simulator.world import WAREHOUSE_HOURS, Trace, World

# odds factors of a credit hold, and hours a credit analyst takes, by the customer's credit tier
CREDIT_HOLD_ODDS = {CreditTier.A: 0.18, CreditTier.B: 0.47, CreditTier.C: 1.5, CreditTier.D: 4.1}
CREDIT_REVIEW_HOURS = {CreditTier.A: 1.5, CreditTier.B: 3.0, CreditTier.C: 6.0, CreditTier.D: 10.0}
SECOND_APPROVAL = {CreditTier.C: 0.1, CreditTier.D: 0.4}  # holds a credit manager must approve too
REGION_SHARE = {"east": 0.55, "west": 0.45}
RATE_MEMORY_DAYS = 7.0


class Warehouses:
    """Each warehouse picks a limited number of orders per open hour, booked hour by hour: a busy day
    (or a small warehouse) pushes picks into later hours and days - a backlog."""

    def __init__(self, world: World) -> None:
        self.world = world
        config = world.config
        self.rate = config.orders / (config.days * 24) if config.orders else config.live_orders_per_hour
        self._booked: dict[tuple[str, int], float] = {}

    def observe(self, orders: int, duration_ns: int) -> None:
        """Track the order rate (a week's memory), so capacity follows the volume simulated."""
        if duration_ns <= 0:
            return
        weight = min(1.0, duration_ns / (RATE_MEMORY_DAYS * DAY))
        self.rate += weight * (orders / (duration_ns / HOUR) - self.rate)

    def capacity(self, warehouse: str, region: str) -> float:
        """Work units per open hour (an average order is about one unit)."""
        primary = WAREHOUSES[region][0] == warehouse
        share = REGION_SHARE[region] * (PRIMARY_SHARE if primary else 1 - PRIMARY_SHARE)
        open_share = (WAREHOUSE_HOURS[1] - WAREHOUSE_HOURS[0]) * 6 / (24 * 7)
        return max(WAREHOUSE_PROFILES[warehouse].capacity * share * self.rate / open_share, 0.05)

    def book(self, warehouse: str, region: str, ready: int, units: float) -> int:
        """When picking of an order released at ``ready`` starts."""
        capacity = self.capacity(warehouse, region)
        hour = ready // HOUR
        for _ in range(24 * 90):
            start = self.world.warehouse_open(max(ready, hour * HOUR))
            if start >= (hour + 1) * HOUR:
                hour = start // HOUR
                continue
            used = self._booked.get((warehouse, hour), 0.0)
            if used < capacity:
                self._booked[(warehouse, hour)] = used + units
                return max(start, hour * HOUR + int(used / capacity * HOUR))
            hour += 1
        return self.world.warehouse_open(ready)


class Fulfilment:
    def __init__(self, world: World, catalog: list[Sku], finance: Finance) -> None:
        self.world = world
        self.catalog = catalog
        self.finance = finance
        self.warehouses = Warehouses(world)

    def _opened(
        self, span: SpanRecord, exception_type: ExceptionType, cause: RootCause, order: Order
    ) -> None:
        truth = self.world.truth
        if truth is not None:
            truth.exceptions[span.span_id] = ExceptionTruth(
                span.span_id, str(exception_type), str(cause), order.id, order.po
            )

    def erp_flow(self, order: Order, trace: Trace, parent: SpanRecord, t: int) -> None:
        w = self.world
        rng = w.rng
        rates = w.config.rates
        erp = order.erp
        base = {**order.base, **order.keys}
        customer = order.plan.customer
        if parent.service_name == MIDDLEWARE.instance:
            parent = w.span(
                trace,
                parent,
                "POST /salesorders",
                KIND_CLIENT,
                MIDDLEWARE,
                t - w.secs(0.01, 0.1),
                w.secs(0.1, 0.5),
                {c.ORDER_ID: order.id},
            )
        amount_factor = min(3.0, max(0.5, (order.content.amount / 1500.0) ** 0.5))
        held = rng.random() < odds(rates.credit_hold, CREDIT_HOLD_ODDS[customer.credit_tier] * amount_factor)
        hold_text = (
            exception_text(
                rng,
                ExceptionType.CREDIT_HOLD,
                customer=customer.id,
                credit_tier=str(customer.credit_tier),
            )
            if held
            else None
        )
        credit = w.span(
            trace,
            parent,
            "credit check",
            KIND_SERVER,
            erp,
            t,
            w.secs(0.2, 2),
            {
                **base,
                c.STATUS: "held",
                c.EXCEPTION_TYPE: str(ExceptionType.CREDIT_HOLD),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                c.EXCEPTION_MESSAGE: hold_text.message,
            }
            if hold_text is not None
            else {**base, c.STATUS: "approved"},
            stage=Stage.CREDIT,
        )
        last = credit
        if hold_text is not None:
            self._opened(credit, ExceptionType.CREDIT_HOLD, hold_text.root_cause, order)
            w.cause(order.id, "credit_review")
            cancelled = rng.random() < 0.05
            review_at = w.person_acts(credit.end_ns, CREDIT_REVIEW_HOURS[customer.credit_tier])
            if not cancelled and rng.random() < SECOND_APPROVAL.get(customer.credit_tier, 0.0):
                w.cause(order.id, "credit_second_approval")
                first = w.span(
                    trace,
                    credit,
                    "credit review",
                    KIND_INTERNAL,
                    erp,
                    review_at,
                    w.secs(120, 1800),
                    {**base, c.MANUAL_TOUCH: True, c.ENDUSER_ID: w.person("credit"), c.STATUS: "escalated"},
                    stage=Stage.CREDIT,
                )
                review_at = w.person_acts(first.end_ns, 8.0)
            last = w.span(
                trace,
                credit,
                "credit review",
                KIND_INTERNAL,
                erp,
                review_at,
                w.secs(120, 1800),
                {
                    **base,
                    c.MANUAL_TOUCH: True,
                    c.ENDUSER_ID: w.person("credit"),
                    c.STATUS: "cancelled" if cancelled else "released",
                    c.EXCEPTION_TYPE: str(ExceptionType.CREDIT_HOLD),
                    c.EXCEPTION_OUTCOME: str(
                        ExceptionOutcome.CANCELLED if cancelled else ExceptionOutcome.RESOLVED
                    ),
                    c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(rng, hold_text.root_cause)),
                },
                stage=Stage.CREDIT,
            )
            if cancelled:
                return
        first_sku = self.catalog[order.content.items[0]].code
        price_text = (
            exception_text(rng, ExceptionType.PRICING, sku=first_sku)
            if rng.random() < rates.pricing
            else None
        )
        pricing = w.span(
            trace,
            last,
            "price order",
            KIND_INTERNAL,
            erp,
            last.end_ns + w.secs(0.5, 30),
            w.secs(0.2, 3),
            {
                **base,
                c.STATUS: "price_exception" if price_text is not None else "priced",
                **(
                    {
                        c.EXCEPTION_TYPE: str(ExceptionType.PRICING),
                        c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                        c.EXCEPTION_MESSAGE: price_text.message,
                    }
                    if price_text is not None
                    else {}
                ),
            },
            stage=Stage.PRICING,
        )
        last = pricing
        if price_text is not None:
            self._opened(pricing, ExceptionType.PRICING, price_text.root_cause, order)
            w.cause(order.id, "pricing_review")
            last = w.span(
                trace,
                pricing,
                "pricing override",
                KIND_INTERNAL,
                erp,
                w.person_acts(pricing.end_ns, 2.0),
                w.secs(120, 1200),
                {
                    **base,
                    c.MANUAL_TOUCH: True,
                    c.ENDUSER_ID: w.person("pricing"),
                    c.STATUS: "priced",
                    c.EXCEPTION_TYPE: str(ExceptionType.PRICING),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                    c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(rng, price_text.root_cause)),
                },
                stage=Stage.PRICING,
            )
        if order.edi:
            w.span(
                trace,
                last,
                "send 855",
                KIND_CLIENT,
                EDI_GATEWAY,
                last.end_ns + w.secs(5, 300),
                w.secs(0.5, 3),
                {
                    **order.base,
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.EDI_TRANSACTION_SET: "855",
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: f"{w.next('st', 30001) % 10**9:09d}",
                    c.EDI_SENDER_ID: OUR_EDI_ID,
                    c.EDI_RECEIVER_ID: customer.edi_id,
                    c.STATUS: "accepted",
                },
                stage=Stage.ACKNOWLEDGE,
            )
        self._allocate(order, trace, last, base)

    def stockout_odds(self, order: Order, warehouse: str) -> float:
        """P(stock-out) of the order at a warehouse: its lines' families there, its size, any spike."""
        profile = WAREHOUSE_PROFILES[warehouse]
        families = [self.catalog[i].family for i in order.content.items]
        factor = sum(profile.stockout[f] for f in families) / len(families)
        factor *= min(2.5, 0.6 + 0.1 * len(families)) * (3.0 if order.plan.spike else 1.0)
        return odds(self.world.config.rates.stockout, factor)

    def _allocate(self, order: Order, trace: Trace, last: SpanRecord, base: Attributes) -> None:
        w = self.world
        rng = w.rng
        rates = w.config.rates
        erp = order.erp
        primary, secondary = WAREHOUSES[order.region]
        warehouse = primary if rng.random() < PRIMARY_SHARE else secondary
        if w.truth is not None:
            record = w.truth.orders.get(order.id)
            if record is not None:
                record.warehouse = warehouse
                record.warehouse_choices = {primary: PRIMARY_SHARE, secondary: 1 - PRIMARY_SHARE}
                record.stockout_odds = {wh: self.stockout_odds(order, wh) for wh in (primary, secondary)}
        alloc_at = last.end_ns + w.secs(1, 120)
        stockout = rng.random() < self.stockout_odds(order, warehouse)
        split = stockout and order.lines > 1 and rng.random() < rates.split_shipment
        alloc_attrs: Attributes = {**base, c.WAREHOUSE_ID: warehouse, c.STATUS: "allocated"}
        stock_text = None
        if stockout:
            line = rng.randrange(order.content.lines)
            stock_text = exception_text(
                rng,
                ExceptionType.BACKORDER if split else ExceptionType.STOCKOUT,
                sku=self.catalog[order.content.items[line]].code,
                warehouse=warehouse,
                quantity=str(order.content.quantities[line]),
            )
            alloc_attrs.update(
                {
                    c.STATUS: "partially_allocated" if split else "backordered",
                    c.EXCEPTION_TYPE: str(ExceptionType.BACKORDER if split else ExceptionType.STOCKOUT),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    c.EXCEPTION_MESSAGE: stock_text.message,
                }
            )
        alloc = w.span(
            trace,
            last,
            "allocate inventory",
            KIND_INTERNAL,
            erp,
            alloc_at,
            w.secs(0.3, 4),
            alloc_attrs,
            stage=Stage.ALLOCATION,
        )
        shipments: list[tuple[SpanRecord, int]] = []
        if split:
            first = max(1, order.lines // 2)
            shipments.append((alloc, first))
        if stock_text is not None:
            kind = ExceptionType.BACKORDER if split else ExceptionType.STOCKOUT
            self._opened(alloc, kind, stock_text.root_cause, order)
            w.cause(order.id, "stockout")
            restock = alloc.end_ns + int(rng.uniform(1, 6) * DAY)
            code = str(recorded_cause(rng, stock_text.root_cause))
            if not split and rng.random() < rates.backorder_cancel:
                w.span(
                    trace,
                    alloc,
                    "cancel order",
                    KIND_INTERNAL,
                    erp,
                    w.person_acts(max(alloc.end_ns + HOUR, restock - 2 * DAY), 1.0),
                    w.secs(60, 600),
                    {
                        **base,
                        c.MANUAL_TOUCH: True,
                        c.ENDUSER_ID: w.person("service"),
                        c.STATUS: "cancelled",
                        c.EXCEPTION_TYPE: str(ExceptionType.STOCKOUT),
                        c.EXCEPTION_OUTCOME: str(ExceptionOutcome.CANCELLED),
                        c.EXCEPTION_ROOT_CAUSE: code,
                    },
                    stage=Stage.ALLOCATION,
                )
                return
            realloc = w.span(
                trace,
                alloc,
                "allocate backorder",
                KIND_INTERNAL,
                erp,
                restock,
                w.secs(0.3, 4),
                {
                    **base,
                    c.WAREHOUSE_ID: warehouse,
                    c.STATUS: "allocated",
                    c.EXCEPTION_TYPE: str(kind),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.AUTO_RESOLVED),
                    c.EXCEPTION_ROOT_CAUSE: code,
                },
                stage=Stage.ALLOCATION,
            )
            shipments.append((realloc, order.lines - (max(1, order.lines // 2) if split else 0)))
        else:
            shipments.append((alloc, order.lines))
        shipped = [self._shipment(order, released, warehouse, lines) for released, lines in shipments]
        self.finance.queue_invoice(order, max(shipped))

    def _shipment(self, order: Order, released: SpanRecord, warehouse: str, lines: int) -> int:
        """Pick, pack and ship one shipment in the WMS, then the carrier; returns the pickup time."""
        w = self.world
        rng = w.rng
        rates = w.config.rates
        shipment_id = f"SH-{w.next('shipment', 400001)}"
        base = {**order.base, c.WAREHOUSE_ID: warehouse, c.SHIPMENT_ID: shipment_id}
        # the WMS polls released orders every 15 minutes: a new trace, linked to the allocation
        wave = (released.end_ns // (15 * MINUTE) + 1) * 15 * MINUTE
        trace = w.trace()
        if rng.random() < rates.malformed:
            self._malformed(trace, warehouse, wave)
        ready = wave + w.secs(0, 3600)
        units = 0.5 + lines / 8 + (1.5 if order.plan.spike else 0.0)
        start = self.warehouses.book(warehouse, order.region, ready, units)
        if start - w.warehouse_open(ready) > 2 * HOUR:
            w.cause(order.id, "warehouse_backlog")
        pick = w.span(
            trace,
            None,
            "pick",
            KIND_INTERNAL,
            WMS,
            start,
            w.secs(300, 600) + lines * w.secs(30, 240),
            {**base, c.ORDER_LINE_COUNT: lines, c.STATUS: "picked"},
            stage=Stage.PICK,
            links=[released],
        )
        pack = w.span(
            trace,
            pick,
            "pack",
            KIND_INTERNAL,
            WMS,
            w.warehouse_open(pick.end_ns + w.secs(60, 3600)),
            w.secs(180, 1200),
            {**base, c.STATUS: "packed"},
            stage=Stage.PACK,
        )
        expedite = priority(order) == "expedite"
        carrier = "fedex" if expedite else "xpo" if lines > 12 else rng.choice(("ups", "fedex"))
        tracking = _tracking_number(w, carrier)
        ship_keys = {c.SHIPMENT_CARRIER: carrier, c.SHIPMENT_TRACKING_NUMBER: tracking}
        tender = w.span(
            trace,
            pack,
            "rate and tender",
            KIND_SERVER,
            TMS,
            pack.end_ns + w.secs(5, 120),
            w.secs(1, 6),
            {**base, **ship_keys, c.STATUS: "tendered"},
            stage=Stage.SHIP,
        )
        # carriers pick up at 22:00 UTC; parcels packed after 21:00 wait for the next day
        day = tender.end_ns // DAY
        pickup = day * DAY + 22 * HOUR
        if tender.end_ns > pickup - HOUR:
            pickup += DAY
        pickup = w.open_at(pickup, (22, 24), workdays=6)
        confirm = w.span(
            trace,
            tender,
            "ship confirm",
            KIND_INTERNAL,
            WMS,
            pickup - w.secs(600, 1800),
            w.secs(1, 10),
            {**base, **ship_keys, c.STATUS: "shipped"},
            stage=Stage.SHIP,
        )
        if order.edi:
            w.span(
                trace,
                confirm,
                "send 856",
                KIND_CLIENT,
                EDI_GATEWAY,
                confirm.end_ns + w.secs(30, 900),
                w.secs(0.5, 3),
                {
                    **order.base,
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.SHIPMENT_ID: shipment_id,
                    **ship_keys,
                    c.EDI_TRANSACTION_SET: "856",
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: f"{w.next('st', 30001) % 10**9:09d}",
                    c.EDI_SENDER_ID: OUR_EDI_ID,
                    c.EDI_RECEIVER_ID: order.plan.customer.edi_id,
                    c.STATUS: "sent",
                },
                stage=Stage.SHIP,
            )
        friday = (pickup // DAY + 3) % 7 == 4
        delayed = rng.random() < odds(rates.carrier_delay, CARRIER_DELAY[carrier] * (1.6 if friday else 1.0))
        delay: Attributes = {}
        if delayed:
            text = exception_text(rng, ExceptionType.CARRIER_DELAY, carrier=carrier, warehouse=warehouse)
            missed = w.span(
                trace,
                confirm,
                "pickup missed",
                KIND_INTERNAL,
                TMS,
                pickup + HOUR,
                w.secs(1, 5),
                {
                    **base,
                    **ship_keys,
                    c.STATUS: "pickup_missed",
                    c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_DELAY),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    c.EXCEPTION_MESSAGE: text.message,
                },
                stage=Stage.SHIP,
            )
            self._opened(missed, ExceptionType.CARRIER_DELAY, text.root_cause, order)
            w.cause(order.id, "carrier_pickup_missed")
            pickup += DAY + w.secs(0, 3 * 3600)
            delay = {
                c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_DELAY),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(rng, text.root_cause)),
            }
        # the carrier's events arrive by webhook: a new trace, linked to the ship confirmation
        system = CARRIERS[carrier]
        ctrace = w.trace()
        picked = w.span(
            ctrace,
            None,
            "pickup scan",
            KIND_SERVER,
            system,
            pickup,
            w.secs(1, 20),
            {**base, **ship_keys, c.STATUS: "picked_up", **delay},
            stage=Stage.SHIP,
            links=[confirm],
        )
        if expedite:  # next-day air
            transit_days = rng.uniform(0.5, 1.2)
        else:
            transit_days = rng.uniform(2, 6) if carrier == "xpo" else rng.uniform(0.6, 3.5)
        delivered_at = w.open_at(picked.end_ns + int(transit_days * DAY), (13, 23), workdays=6)
        delivery_attrs: Attributes = {**base, **ship_keys, c.STATUS: "delivered"}
        if rng.random() < rates.carrier_exception:
            text = exception_text(rng, ExceptionType.CARRIER_EXCEPTION, carrier=carrier)
            problem = w.span(
                ctrace,
                picked,
                "delivery exception",
                KIND_SERVER,
                system,
                picked.end_ns + (delivered_at - picked.end_ns) // 2,
                w.secs(1, 10),
                {
                    **base,
                    **ship_keys,
                    c.STATUS: "exception",
                    c.ERROR_TYPE: text.error_type,
                    c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_EXCEPTION),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    c.EXCEPTION_MESSAGE: text.message,
                },
                stage=Stage.DELIVER,
                status=STATUS_ERROR,
                message=text.message,
            )
            self._opened(problem, ExceptionType.CARRIER_EXCEPTION, text.root_cause, order)
            delivered_at = w.open_at(delivered_at + DAY, (13, 23), workdays=6)
            delivery_attrs.update(
                {
                    c.EXCEPTION_TYPE: str(ExceptionType.CARRIER_EXCEPTION),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                    c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(rng, text.root_cause)),
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
        w.span(
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

    def _malformed(self, trace: Trace, warehouse: str, at: int) -> None:
        """A legacy poller's span without an order id or keys and with a stage nobody defined."""
        from tracing.instrument import check_attributes

        w = self.world
        attrs: Attributes = {
            c.STAGE: "replenish",
            c.SYSTEM_KIND: str(SystemKind.WMS),
            c.SYSTEM_INSTANCE: WMS.instance,
            c.WAREHOUSE_ID: warehouse,
        }
        problems = check_attributes(attrs)
        attrs[c.CONVENTION_VIOLATIONS] = problems
        w.span(trace, None, "inventory sync", KIND_INTERNAL, WMS, at, w.secs(1, 30), attrs)


def _tracking_number(world: World, carrier: str) -> str:
    rng = world.rng
    if carrier == "ups":
        return "1Z" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=16))
    if carrier == "fedex":
        return "".join(rng.choices("0123456789", k=12))
    return "PRO" + "".join(rng.choices("0123456789", k=10))
