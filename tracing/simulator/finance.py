"""The finance ERP's nightly invoice runs, late invoices and disputes of orders billed twice."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime

from tracing import conventions as c
from tracing.conventions import ExceptionOutcome, ExceptionType, Stage
from tracing.records import KIND_CLIENT, KIND_INTERNAL, STATUS_ERROR, Attributes, SpanRecord
from tracing.simulator.catalog import Customer, Sku
from tracing.simulator.config import DAY, HOUR, SECOND
from tracing.simulator.messages import exception_text, recorded_cause
from tracing.simulator.network import EDI_GATEWAY, FINANCE, OUR_EDI_ID
from tracing.simulator.orders import Order
from tracing.simulator.truth import ExceptionTruth
from tracing.simulator.world import Trace, World

INVOICE_RUN_MAX = 500  # orders listed by one invoice-run span (collectors cap array attributes)


class Finance:
    def __init__(self, world: World, catalog: list[Sku]) -> None:
        self.world = world
        self.catalog = catalog
        self.runs: dict[int, dict[Customer, list[Order]]] = defaultdict(lambda: defaultdict(list))

    def queue_invoice(self, order: Order, shipped_at: int) -> None:
        """Invoices are posted by the finance ERP's nightly run (02:00 UTC) after the ship day."""
        run = (shipped_at // DAY + 1) * DAY + 2 * HOUR
        self.runs[run][order.plan.customer].append(order)

    def run(self, run: int, by_customer: Mapping[Customer, list[Order]]) -> None:
        """One night's invoicing, in runs of at most ``INVOICE_RUN_MAX`` orders each."""
        parts: list[dict[Customer, list[Order]]] = [{}]
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
            self._part(run, part)

    def _opened(
        self, span: SpanRecord, exception_type: ExceptionType, cause: str, order: Order | None
    ) -> None:
        truth = self.world.truth
        if truth is not None:
            truth.exceptions[span.span_id] = ExceptionTruth(
                span.span_id,
                str(exception_type),
                cause,
                order.id if order is not None else "",
                order.po if order is not None else "",
            )

    def _part(self, run: int, by_customer: Mapping[Customer, list[Order]]) -> None:
        w = self.world
        rng = w.rng
        rates = w.config.rates
        order_ids = [o.id for orders in by_customer.values() for o in orders]
        trace = w.trace()
        root = w.span(
            trace,
            None,
            "invoice run",
            KIND_INTERNAL,
            FINANCE,
            run,
            w.secs(5, 20) + len(order_ids) * SECOND // 20,
            {
                c.BATCH_ID: f"INVRUN-{datetime.fromtimestamp(run / 1e9, UTC):%Y%m%d}-{w.next('invrun', 1)}",
                c.BATCH_ORDER_IDS: order_ids,
                c.BATCH_SIZE: len(order_ids),
            },
            stage=Stage.INVOICE,
        )
        t = root.start_ns + w.secs(1, 3)
        for customer, orders in by_customer.items():
            groups = [orders] if customer.consolidated_billing else [[o] for o in orders]
            for group in groups:
                invoice_id = f"INV-{w.next('invoice', 900001)}"
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
                text = (
                    exception_text(
                        rng,
                        ExceptionType.INVOICE,
                        sku=self.catalog[group[0].content.items[0]].code,
                        customer=customer.id,
                    )
                    if late
                    else None
                )
                posted = w.span(
                    trace,
                    root,
                    "post invoice",
                    KIND_INTERNAL,
                    FINANCE,
                    t,
                    w.secs(0.05, 0.4),
                    {
                        **attrs,
                        c.STATUS: "failed",
                        c.ERROR_TYPE: text.error_type,
                        c.EXCEPTION_TYPE: str(ExceptionType.INVOICE),
                        c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                        c.EXCEPTION_MESSAGE: text.message,
                    }
                    if text is not None
                    else {**attrs, c.STATUS: "invoiced"},
                    stage=Stage.INVOICE,
                    status=STATUS_ERROR if text is not None else "Ok",
                    message=text.message if text is not None else "",
                )
                t = posted.end_ns
                parent_trace = trace
                if text is not None:
                    self._opened(
                        posted,
                        ExceptionType.INVOICE,
                        str(text.root_cause),
                        group[0] if len(group) == 1 else None,
                    )
                    for order in group:
                        w.cause(order.id, "invoice_failed")
                    rtrace = w.trace()
                    posted = w.span(
                        rtrace,
                        None,
                        "repost invoice",
                        KIND_INTERNAL,
                        FINANCE,
                        w.person_acts(posted.end_ns + DAY * rng.randint(0, 2), 6.0),
                        w.secs(120, 900),
                        {
                            **attrs,
                            c.STATUS: "invoiced",
                            c.MANUAL_TOUCH: True,
                            c.ENDUSER_ID: w.person("ar"),
                            c.EXCEPTION_TYPE: str(ExceptionType.INVOICE),
                            c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                            c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(rng, text.root_cause)),
                        },
                        stage=Stage.INVOICE,
                        links=[posted],
                    )
                    parent_trace = rtrace
                if group[0].edi:
                    w.span(
                        parent_trace,
                        posted,
                        "send 810",
                        KIND_CLIENT,
                        EDI_GATEWAY,
                        posted.end_ns + w.secs(60, 1800),
                        w.secs(0.5, 3),
                        {
                            **attrs,
                            c.EDI_TRANSACTION_SET: "810",
                            c.EDI_TRANSACTION_SET_CONTROL_NUMBER: f"{w.next('st', 30001) % 10**9:09d}",
                            c.EDI_SENDER_ID: OUR_EDI_ID,
                            c.EDI_RECEIVER_ID: customer.edi_id,
                            c.STATUS: "sent",
                        },
                        stage=Stage.INVOICE,
                    )
                for order in group:
                    if order.plan.duplicate_of:
                        self._dispute(order, invoice_id, posted)

    def _dispute(self, order: Order, invoice_id: str, posted: SpanRecord) -> None:
        """The customer finds the order billed twice and disputes it; AR issues a credit memo."""
        w = self.world
        rng = w.rng
        trace = w.trace()
        base: Attributes = {**order.base, c.INVOICE_ID: invoice_id}
        if order.po:
            base[c.ORDER_CUSTOMER_PO] = order.po
        text = exception_text(rng, ExceptionType.DUPLICATE, invoice=invoice_id, po=order.po, order=order.id)
        disputed = w.span(
            trace,
            None,
            "invoice dispute",
            KIND_INTERNAL,
            FINANCE,
            w.person_acts(posted.end_ns + int(rng.uniform(1, 5) * DAY), 4.0),
            w.secs(60, 600),
            {
                **base,
                c.STATUS: "invoice_disputed",
                c.MANUAL_TOUCH: True,
                c.ENDUSER_ID: w.person("ar"),
                c.EXCEPTION_TYPE: str(ExceptionType.DUPLICATE),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.OPENED),
                c.EXCEPTION_MESSAGE: text.message,
            },
            stage=Stage.INVOICE,
        )
        self._opened(disputed, ExceptionType.DUPLICATE, str(text.root_cause), order)
        w.span(
            trace,
            disputed,
            "credit memo",
            KIND_INTERNAL,
            FINANCE,
            w.person_acts(disputed.end_ns, 8.0),
            w.secs(120, 900),
            {
                **base,
                c.STATUS: "credit_memo",
                c.MANUAL_TOUCH: True,
                c.ENDUSER_ID: w.person("ar"),
                c.EXCEPTION_TYPE: str(ExceptionType.DUPLICATE),
                c.EXCEPTION_OUTCOME: str(ExceptionOutcome.RESOLVED),
                c.EXCEPTION_ROOT_CAUSE: str(recorded_cause(rng, text.root_cause)),
            },
            stage=Stage.INVOICE,
        )


__all__ = ["INVOICE_RUN_MAX", "Finance", "Trace"]
