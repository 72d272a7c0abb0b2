"""The simulator's ground truth, kept apart from the spans it sends.

What the models of ``ai/`` must find (which orders are resubmissions, which carry a spike, why an
exception opened, how the ERP chose a warehouse) is recorded here and nowhere on a span, so an
evaluation can score predictions against it while the models only ever read the store. Pass a
:class:`GroundTruth` to the :class:`~tracing.simulator.Simulator` to collect it (it is not kept
otherwise, so long simulations stay small).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class OrderTruth:
    order_id: str
    customer_id: str
    captured_ns: int
    duplicate_of: str = ""  # the order this one re-submits (through another channel or file)
    spike: str = ""  # "line" or "order" when quantities were blown up, else ""
    warehouse: str = ""  # where the ERP allocated it
    warehouse_choices: dict[str, float] = field(default_factory=dict)  # the ERP's odds per warehouse
    stockout_odds: dict[str, float] = field(default_factory=dict)  # P(stock-out) had it gone there
    causes: list[str] = field(default_factory=list)  # what slowed it down: credit_review, backlog, ...


@dataclass(slots=True)
class ExceptionTruth:
    span_id: str  # the span that opened the exception
    exception_type: str
    root_cause: str
    order_id: str = ""  # empty when the opening span named no order (an EDI file, a PO)
    customer_po: str = ""


@dataclass
class GroundTruth:
    orders: dict[str, OrderTruth] = field(default_factory=dict)
    exceptions: dict[str, ExceptionTruth] = field(default_factory=dict)

    def order(self, order_id: str, customer_id: str, captured_ns: int) -> OrderTruth:
        truth = self.orders.get(order_id)
        if truth is None:
            truth = self.orders[order_id] = OrderTruth(order_id, customer_id, captured_ns)
        return truth

    def cause(self, order_id: str, cause: str) -> None:
        truth = self.orders.get(order_id)
        if truth is not None and cause not in truth.causes:
            truth.causes.append(cause)
