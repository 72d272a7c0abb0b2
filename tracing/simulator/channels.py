"""How orders come in: web shop, B2B portal, sales desk, and EDI 850 files (gateway, middleware, order)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from tracing import conventions as c
from tracing.conventions import Channel, ExceptionOutcome, ExceptionType, RootCause, Stage
from tracing.records import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_INTERNAL,
    KIND_PRODUCER,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_OK,
    Attributes,
    SpanRecord,
)
from tracing.simulator.catalog import CURRENCY, Customer, Sku
from tracing.simulator.fulfilment import Fulfilment
from tracing.simulator.messages import exception_text, recorded_cause
from tracing.simulator.network import (
    B2B_PORTAL,
    EDI_GATEWAY,
    ERPS,
    MIDDLEWARE,
    OUR_EDI_ID,
    QUEUE,
    WEB_SHOP,
    System,
)
from tracing.simulator.orders import Order, Plan, priority
from tracing.simulator.truth import ExceptionTruth
from tracing.simulator.world import Trace, World


class Channels:
    """Captures orders and hands them to the ERP flow."""

    def __init__(self, world: World, catalog: list[Sku], fulfilment: Fulfilment) -> None:
        self.world = world
        self.catalog = catalog
        self.fulfilment = fulfilment
        self.orders_generated = 0
        self._edi_carry: dict[str, list[Order]] = defaultdict(list)  # duplicate POs resent in a later file

    # -- orders ---------------------------------------------------------------------------------

    def new_order(self, plan: Plan) -> Order:
        self.orders_generated += 1
        customer = plan.customer
        region = customer.region
        order_id = plan.order_id
        assert plan.content is not None
        base: Attributes = {
            c.ORDER_ID: order_id,
            c.CHANNEL: str(plan.channel),
            c.CUSTOMER_ID: customer.id,
            c.CUSTOMER_TIER: str(customer.tier),
            c.CUSTOMER_CREDIT_TIER: str(customer.credit_tier),
            c.REGION: region,
        }
        truth = self.world.truth
        if truth is not None:
            record = truth.order(order_id, customer.id, plan.at)
            record.duplicate_of = plan.duplicate_of
            record.spike = plan.spike
        return Order(
            id=order_id,
            plan=plan,
            base=base,
            edi=plan.channel is Channel.EDI,
            po=plan.po or f"PO-{customer.id[2:]}-{plan.seq}",
            lines=plan.content.lines,
            region=region,
            erp=ERPS[region],
            content=plan.content,
        )

    def content(self, order: Order) -> Attributes:
        """What was ordered, as the order's first span carries it."""
        content = order.content
        return {
            c.ORDER_LINE_COUNT: content.lines,
            c.ORDER_PRIORITY: priority(order),
            c.ORDER_AMOUNT: content.amount,
            c.ORDER_CURRENCY: CURRENCY,
            c.ORDER_QUANTITY: content.quantity,
            c.ORDER_LINE_SKUS: [self.catalog[i].code for i in content.items],
            c.ORDER_LINE_QUANTITIES: list(content.quantities),
        }

    def opened(
        self, span: SpanRecord, exception_type: ExceptionType, cause: RootCause, order: Order | None
    ) -> None:
        truth = self.world.truth
        if truth is not None:
            truth.exceptions[span.span_id] = ExceptionTruth(
                span.span_id,
                str(exception_type),
                str(cause),
                order.id if order is not None and c.ORDER_ID in span.attributes else "",
                order.po if order is not None else "",
            )

    # -- web shop, portal, sales desk -----------------------------------------------------------

    def order_from_plan(self, plan: Plan) -> None:
        w = self.world
        order = self.new_order(plan)
        rates = w.config.rates
        trace = w.trace()
        t = plan.at
        info = self.content(order)
        if plan.channel is Channel.SALES:
            t = w.open_at(t)
            order.keys = {c.ORDER_CUSTOMER_PO: order.po}
            entry = w.span(
                trace,
                None,
                "enter sales order",
                KIND_SERVER,
                order.erp,
                t,
                w.secs(120, 900),
                {**order.base, **order.keys, **info, c.MANUAL_TOUCH: True, c.ENDUSER_ID: w.person("sales")},
                stage=Stage.CAPTURE,
            )
            self.fulfilment.erp_flow(order, trace, entry, entry.end_ns + w.secs(1, 30))
            return
        if plan.channel is Channel.ECOMMERCE:
            system, name = WEB_SHOP, "POST /checkout"
            order.keys = {c.ORDER_ECOMMERCE_ID: f"W{plan.seq + 7_000_000}"}
        else:
            system, name = B2B_PORTAL, "POST /orders"
            order.keys = {c.ORDER_CUSTOMER_PO: order.po}
        capture = w.span(
            trace,
            None,
            name,
            KIND_SERVER,
            system,
            t,
            w.secs(0.2, 2.5),
            {**order.base, **order.keys, **info},
            stage=Stage.CAPTURE,
        )
        publish = self._publish(trace, capture, system, capture.end_ns - w.secs(0.05, 0.15))
        received = publish.end_ns + w.secs(0.5, 45)
        validate = w.span(
            trace,
            publish,
            f"{QUEUE} process",
            KIND_CONSUMER,
            MIDDLEWARE,
            received,
            w.secs(0.3, 3),
            {**order.base, **order.keys, c.MESSAGING_SYSTEM: "rabbitmq", c.MESSAGING_DESTINATION: QUEUE},
            stage=Stage.VALIDATION,
        )
        if w.rng.random() < rates.duplicate:
            self._duplicate_web(order, system, name, capture.end_ns + w.secs(2, 60))
        self.fulfilment.erp_flow(order, trace, validate, validate.end_ns + w.secs(0.2, 5))

    def _publish(self, trace: Trace, parent: SpanRecord, system: System, at: int) -> SpanRecord:
        w = self.world
        return w.span(
            trace,
            parent,
            f"{QUEUE} publish",
            KIND_PRODUCER,
            system,
            at,
            w.secs(0.005, 0.05),
            {c.MESSAGING_SYSTEM: "rabbitmq", c.MESSAGING_DESTINATION: QUEUE},
        )

    def _duplicate_web(self, order: Order, system: System, name: str, at: int) -> None:
        """The shopper (or a retrying client) submits the same order again; middleware rejects it."""
        w = self.world
        trace = w.trace()
        capture = w.span(
            trace,
            None,
            name,
            KIND_SERVER,
            system,
            at,
            w.secs(0.2, 2),
            {**order.base, **order.keys, c.ORDER_LINE_COUNT: order.lines, c.ORDER_PRIORITY: priority(order)},
            stage=Stage.CAPTURE,
        )
        publish = self._publish(trace, capture, system, capture.end_ns - w.secs(0.05, 0.15))
        what = "web order id" if c.ORDER_ECOMMERCE_ID in order.keys else "purchase order"
        text = exception_text(w.rng, ExceptionType.DUPLICATE, what=what, order=order.id)
        w.span(
            trace,
            publish,
            f"{QUEUE} process",
            KIND_CONSUMER,
            MIDDLEWARE,
            publish.end_ns + w.secs(0.5, 30),
            w.secs(0.2, 1),
            {
                **order.base,
                **order.keys,
                c.STATUS: "duplicate",
                c.EXCEPTION_TYPE: str(ExceptionType.DUPLICATE),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.AUTO_RESOLVED),
                c.EXCEPTION_MESSAGE: text.message,
                c.EXCEPTION_ROOT_CAUSE: str(text.root_cause),
            },
            stage=Stage.VALIDATION,
        )

    # -- EDI ------------------------------------------------------------------------------------

    def edi_file(self, customer: Customer, at: int, plans: list[Plan]) -> None:
        """An 850 file from a trading partner: gateway trace, middleware batch trace, order traces."""
        w = self.world
        rng = w.rng
        rates = w.config.rates
        orders = [self.new_order(plan) for plan in plans]
        carried = self._edi_carry.pop(customer.id, [])
        isa = f"{w.next('isa', 100000001) % 10**9:09d}"
        gs = str(w.next("gs", 200001))
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
        trace = w.trace()
        file_attrs: Attributes = {
            **envelope,
            c.EDI_TRANSACTION_SET: "850",
            c.BATCH_ID: file_name,
            c.BATCH_SIZE: len(orders) + len(carried),
        }
        if rng.random() < rates.edi_envelope:
            text = exception_text(rng, ExceptionType.ENVELOPE, partner=customer.edi_id)
            bad = w.span(
                trace,
                None,
                "receive 850 file",
                KIND_SERVER,
                EDI_GATEWAY,
                at,
                w.secs(1, 5),
                {
                    **file_attrs,
                    c.STATUS: "rejected",
                    c.ERROR_TYPE: text.error_type,
                    c.EXCEPTION_TYPE: str(ExceptionType.ENVELOPE),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    c.EXCEPTION_MESSAGE: text.message,
                },
                stage=Stage.CAPTURE,
                status=STATUS_ERROR,
                message=text.message,
            )
            self.opened(bad, ExceptionType.ENVELOPE, text.root_cause, None)
            self._edi_rejected_ack(trace, bad, envelope, file_name, text.root_cause)
            for order in orders:
                w.cause(order.id, "edi_envelope_reject")
            self._edi_carry[customer.id] = carried
            self._resend(customer, w.person_acts(bad.end_ns, 3.0), orders, text.root_cause)
            return
        self._file_body(customer, at, orders, carried, envelope, file_attrs, file_name, trace, None)

    def _resend(self, customer: Customer, at: int, orders: list[Order], cause: RootCause) -> None:
        """The partner fixed the envelope and sends the file again."""
        w = self.world
        carried = self._edi_carry.pop(customer.id, [])
        isa = f"{w.next('isa', 100000001) % 10**9:09d}"
        gs = str(w.next("gs", 200001))
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
        file_attrs: Attributes = {
            **envelope,
            c.EDI_TRANSACTION_SET: "850",
            c.BATCH_ID: file_name,
            c.BATCH_SIZE: len(orders) + len(carried),
        }
        self._file_body(customer, at, orders, carried, envelope, file_attrs, file_name, w.trace(), cause)

    def _edi_rejected_ack(
        self, trace: Trace, bad: SpanRecord, envelope: Attributes, file_name: str, cause: RootCause
    ) -> None:
        w = self.world
        ack = w.span(
            trace,
            bad,
            "send 997",
            KIND_CLIENT,
            EDI_GATEWAY,
            bad.end_ns,
            w.secs(0.5, 2),
            {
                **envelope,
                c.EDI_TRANSACTION_SET: "997",
                c.BATCH_ID: file_name,
                c.STATUS: "rejected",
                c.EXCEPTION_TYPE: str(ExceptionType.EDI_REJECTED),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                c.EXCEPTION_MESSAGE: str(bad.attributes[c.EXCEPTION_MESSAGE]),
            },
            stage=Stage.ACKNOWLEDGE,
        )
        self.opened(ack, ExceptionType.EDI_REJECTED, cause, None)

    def _file_body(
        self,
        customer: Customer,
        at: int,
        orders: list[Order],
        carried: list[Order],
        envelope: Attributes,
        file_attrs: Attributes,
        file_name: str,
        trace: Trace,
        resent_cause: RootCause | None,
    ) -> None:
        w = self.world
        rng = w.rng
        rates = w.config.rates
        outcome: Attributes = {}
        ack_outcome: Attributes = {}
        if resent_cause is not None:  # the partner fixed and resent the file: both exceptions resolve
            code = str(recorded_cause(rng, resent_cause))
            outcome = {
                c.EXCEPTION_TYPE: str(ExceptionType.ENVELOPE),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                c.EXCEPTION_ROOT_CAUSE: code,
            }
            ack_outcome = {
                c.EXCEPTION_TYPE: str(ExceptionType.EDI_REJECTED),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                c.EXCEPTION_ROOT_CAUSE: code,
            }
        received = w.span(
            trace,
            None,
            "receive 850 file",
            KIND_SERVER,
            EDI_GATEWAY,
            at,
            w.secs(1, 8),
            {**file_attrs, **outcome},
            stage=Stage.CAPTURE,
        )
        t = received.end_ns
        translated: list[tuple[Order, SpanRecord, bool]] = []
        for order, duplicate in [(o, False) for o in orders] + [(o, True) for o in carried]:
            st = f"{w.next('st', 30001) % 10**9:09d}"
            if not duplicate:
                order.keys = {
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.EDI_INTERCHANGE_CONTROL_NUMBER: isa_of(envelope),
                    c.EDI_GROUP_CONTROL_NUMBER: str(envelope[c.EDI_GROUP_CONTROL_NUMBER]),
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: st,
                }
            keys: Attributes = {
                **envelope,
                c.EDI_TRANSACTION_SET: "850",
                c.ORDER_CUSTOMER_PO: order.po,
                c.EDI_TRANSACTION_SET_CONTROL_NUMBER: st,
            }
            failed = not duplicate and rng.random() < rates.edi_mapping
            line = self.catalog[order.content.items[0]].code
            if failed:
                text = exception_text(rng, ExceptionType.EDI_MAPPING, sku=line, partner=customer.edi_id)
                attrs: Attributes = {
                    **keys,
                    c.STATUS: "mapping_error",
                    c.ERROR_TYPE: text.error_type,
                    c.EXCEPTION_TYPE: str(ExceptionType.EDI_MAPPING),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                    c.EXCEPTION_MESSAGE: text.message,
                }
            else:
                attrs = {**keys, c.STATUS: "translated"}
            span = w.span(
                trace,
                received,
                "translate 850",
                KIND_INTERNAL,
                EDI_GATEWAY,
                t,
                w.secs(0.05, 0.4),
                attrs,
                stage=Stage.CAPTURE,
                status=STATUS_ERROR if failed else STATUS_OK,
                message=text.message if failed else "",
            )
            t = span.end_ns
            if failed:
                self.opened(span, ExceptionType.EDI_MAPPING, text.root_cause, order)
                w.cause(order.id, "edi_mapping")
                self._edi_reprocess(order, span, keys, text.root_cause)
            else:
                translated.append((order, span, duplicate))
            if not duplicate and rng.random() < rates.duplicate:
                self._edi_carry[customer.id].append(order)
        w.span(
            trace,
            received,
            "send 997",
            KIND_CLIENT,
            EDI_GATEWAY,
            t,
            w.secs(0.3, 2),
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
        batch_trace = w.trace()
        picked = t + w.secs(30, 900)
        batch = w.span(
            batch_trace,
            None,
            "split 850 batch",
            KIND_CONSUMER,
            MIDDLEWARE,
            picked,
            w.secs(0.5, 2) + len(translated) * w.secs(0.01, 0.05),
            {
                c.CHANNEL: str(Channel.EDI),
                c.CUSTOMER_ID: customer.id,
                c.BATCH_ID: f"MWB-{w.next('mwb', 500001)}",
                c.BATCH_ORDER_IDS: [o.id for o, _, _ in translated],
                c.BATCH_SIZE: len(translated),
                c.EDI_INTERCHANGE_CONTROL_NUMBER: isa_of(envelope),
            },
            stage=Stage.VALIDATION,
            links=[received],
        )
        step = max(batch.duration_ns // max(len(translated), 1), 1000)
        for i, (order, span, duplicate) in enumerate(translated):
            start = batch.start_ns + i * step
            self._edi_order(order, span, batch, start, duplicate)

    def _edi_reprocess(self, order: Order, failed: SpanRecord, keys: Attributes, cause: RootCause) -> None:
        """An EDI analyst fixes the map and reprocesses the transaction set; the order continues alone."""
        w = self.world
        at = w.person_acts(failed.end_ns, 4.0)
        trace = w.trace()
        span = w.span(
            trace,
            None,
            "reprocess 850",
            KIND_INTERNAL,
            EDI_GATEWAY,
            at,
            w.secs(60, 900),
            {
                **keys,
                c.STATUS: "translated",
                c.MANUAL_TOUCH: True,
                c.ENDUSER_ID: w.person("edi"),
                c.EXCEPTION_TYPE: str(ExceptionType.EDI_MAPPING),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(w.rng, cause)),
            },
            stage=Stage.CAPTURE,
            links=[failed],
        )
        self._edi_order(order, span, None, span.end_ns + w.secs(30, 600), False)

    def _edi_order(
        self, order: Order, translated: SpanRecord, batch: SpanRecord | None, at: int, duplicate: bool
    ) -> None:
        w = self.world
        trace = w.trace()
        links = [translated] + ([batch] if batch is not None else [])
        attrs: Attributes = {**order.base, **order.keys, c.EDI_TRANSACTION_SET: "850"}
        if duplicate:
            text = exception_text(w.rng, ExceptionType.DUPLICATE, what="purchase order", order=order.id)
            attrs.update(
                {
                    c.ORDER_CUSTOMER_PO: order.po,
                    c.EDI_TRANSACTION_SET_CONTROL_NUMBER: str(
                        translated.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER]
                    ),
                    c.STATUS: "duplicate",
                    c.EXCEPTION_TYPE: str(ExceptionType.DUPLICATE),
                    c.EXCEPTION_OUTCOME: str(ExceptionOutcome.AUTO_RESOLVED),
                    c.EXCEPTION_MESSAGE: text.message,
                    c.EXCEPTION_ROOT_CAUSE: str(text.root_cause),
                }
            )
        canonical = w.span(
            trace,
            None,
            "map canonical order",
            KIND_CONSUMER,
            MIDDLEWARE,
            at,
            w.secs(0.2, 2),
            {**attrs, **self.content(order)},
            stage=Stage.VALIDATION,
            links=links,
        )
        if duplicate:
            return
        self.fulfilment.erp_flow(order, trace, canonical, canonical.end_ns + w.secs(0.5, 20))


def isa_of(envelope: Attributes) -> str:
    return str(envelope[c.EDI_INTERCHANGE_CONTROL_NUMBER])
