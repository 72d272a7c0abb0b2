"""Order-hop span conventions: the attribute names every hop span uses, defined once.

A *hop* is one system's work on an order (an ERP validating it, the WMS picking it, a carrier
delivering it). Hop spans carry the canonical order id when known, any business keys they saw, the
stage, and which system did the work. OpenTelemetry semantic conventions are reused where one
exists (``service.name``, ``service.instance.id``, ``enduser.id``, ``messaging.*``, ``error.type``);
the rest live under the ``order.``, ``edi.``, ``shipment.``, ``invoice.``, ``system.``,
``warehouse.`` and ``customer.`` namespaces. The reference page is ``docs/conventions.md``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# -- OpenTelemetry semantic conventions reused -------------------------------------------------
SERVICE_NAME: Final = "service.name"  # resource: the system instance, e.g. "erp-east"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
ENDUSER_ID: Final = "enduser.id"  # the person who acted on the order (a manual touch)
ERROR_TYPE: Final = "error.type"
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_DESTINATION: Final = "messaging.destination.name"

# -- canonical order and its external keys -----------------------------------------------------
ORDER_ID: Final = "order.id"  # canonical order number, e.g. "SO-104233"
ORDER_CUSTOMER_PO: Final = "order.customer_po"  # customer purchase-order number (EDI BEG03)
ORDER_ECOMMERCE_ID: Final = "order.ecommerce_id"  # web-shop / marketplace order id
ORDER_LINE_COUNT: Final = "order.line_count"
ORDER_PRIORITY: Final = "order.priority"  # standard | expedite
# what was ordered: on the span that first carries the order (capture, or the canonical-order map)
ORDER_AMOUNT: Final = "order.amount"  # order value (sum of quantity x unit price), in order.currency
ORDER_CURRENCY: Final = "order.currency"  # ISO 4217, e.g. "USD"
ORDER_QUANTITY: Final = "order.quantity"  # units over all lines
ORDER_LINE_SKUS: Final = "order.line.skus"  # string[]: the item (SKU) of each line
ORDER_LINE_QUANTITIES: Final = "order.line.quantities"  # int[]: the quantity of each line, same order
EDI_INTERCHANGE_CONTROL_NUMBER: Final = "edi.interchange_control_number"  # ISA13
EDI_GROUP_CONTROL_NUMBER: Final = "edi.group_control_number"  # GS06
EDI_TRANSACTION_SET_CONTROL_NUMBER: Final = "edi.transaction_set_control_number"  # ST02
EDI_TRANSACTION_SET: Final = "edi.transaction_set"  # 850, 855, 856, 810, 997
EDI_SENDER_ID: Final = "edi.sender_id"  # ISA06
EDI_RECEIVER_ID: Final = "edi.receiver_id"  # ISA08
SHIPMENT_ID: Final = "shipment.id"
SHIPMENT_TRACKING_NUMBER: Final = "shipment.tracking_number"  # one number, or a list
SHIPMENT_CARRIER: Final = "shipment.carrier"
INVOICE_ID: Final = "invoice.id"

# -- batches: one span for a file or batch that carries many orders -----------------------------
BATCH_ID: Final = "order.batch.id"
BATCH_ORDER_IDS: Final = "order.batch.order_ids"  # list of the order ids in the batch
BATCH_SIZE: Final = "order.batch.size"

# -- where the order is and who did the work -----------------------------------------------------
STAGE: Final = "order.stage"
CHANNEL: Final = "order.channel"
SYSTEM_KIND: Final = "system.kind"
SYSTEM_INSTANCE: Final = "system.instance"
REGION: Final = "order.region"
WAREHOUSE_ID: Final = "warehouse.id"
CUSTOMER_ID: Final = "customer.id"
CUSTOMER_TIER: Final = "customer.tier"
CUSTOMER_CREDIT_TIER: Final = "customer.credit_tier"  # A (best) .. D, from the credit department
MANUAL_TOUCH: Final = "order.manual_touch"  # true when a person acted on the order in this hop
EXCEPTION_TYPE: Final = "order.exception.type"
EXCEPTION_OUTCOME: Final = "order.exception.outcome"
EXCEPTION_MESSAGE: Final = "order.exception.message"  # what the system said, free text
# the reason code recorded when an exception is resolved (by the person or system resolving it)
EXCEPTION_ROOT_CAUSE: Final = "order.exception.root_cause"
STATUS: Final = "order.status"  # business outcome of the hop, e.g. accepted, held, backordered
# set by the instrumentation library on spans that break these conventions (list of problems)
CONVENTION_VIOLATIONS: Final = "order.convention.violations"


class Stage(StrEnum):
    CAPTURE = "capture"
    VALIDATION = "validation"
    CREDIT = "credit"
    PRICING = "pricing"
    ALLOCATION = "allocation"
    PICK = "pick"
    PACK = "pack"
    SHIP = "ship"
    DELIVER = "deliver"
    INVOICE = "invoice"
    ACKNOWLEDGE = "acknowledge"


STAGE_ORDER: Final[tuple[Stage, ...]] = (
    Stage.CAPTURE,
    Stage.VALIDATION,
    Stage.CREDIT,
    Stage.PRICING,
    Stage.ALLOCATION,
    Stage.PICK,
    Stage.PACK,
    Stage.SHIP,
    Stage.DELIVER,
    Stage.INVOICE,
)


class Channel(StrEnum):
    EDI = "edi"
    ECOMMERCE = "ecommerce"
    PORTAL = "portal"
    SALES = "sales"


class SystemKind(StrEnum):
    ECOMMERCE = "ecommerce"
    EDI = "edi"
    MIDDLEWARE = "middleware"
    ERP = "erp"
    WMS = "wms"
    TMS = "tms"
    CARRIER = "carrier"
    FINANCE = "finance"


class CustomerTier(StrEnum):
    STRATEGIC = "strategic"
    KEY = "key"
    STANDARD = "standard"


class CreditTier(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class RootCause(StrEnum):
    """Reason codes for resolved exceptions: which team fixes the cause."""

    MASTER_DATA = "master_data"  # item, unit of measure, tax or price-list set-up
    CREDIT = "credit"  # credit limit, overdue balance, account review
    PRICING = "pricing"  # contract or promotion price disagreements
    INVENTORY = "inventory"  # stock, allocation, bin and count problems
    PARTNER_EDI = "partner_edi"  # what a trading partner sent
    CARRIER = "carrier"  # the carrier's capacity, pickups, transit
    CUSTOMER_DATA = "customer_data"  # addresses, ship-to and bill-to records, duplicate orders
    INTEGRATION = "integration"  # interfaces between systems: timeouts, queues, APIs


class ExceptionType(StrEnum):
    CREDIT_HOLD = "credit_hold"
    PRICING = "pricing"
    STOCKOUT = "stockout"
    BACKORDER = "backorder"
    EDI_MAPPING = "edi_mapping"
    EDI_REJECTED = "edi_rejected"
    CARRIER_DELAY = "carrier_delay"
    CARRIER_EXCEPTION = "carrier_exception"
    INVOICE = "invoice"
    DUPLICATE = "duplicate"
    ENVELOPE = "edi_envelope"


class ExceptionOutcome(StrEnum):
    OPENED = "opened"
    RESOLVED = "resolved"
    AUTO_RESOLVED = "auto_resolved"
    CANCELLED = "cancelled"


class KeyRole(StrEnum):
    """How a key attribute takes part in attributing spans to orders (docs/conventions.md)."""

    ORDER = "order"  # the value is an order id: the span names that order
    STRONG = "strong"  # identifies one order, shipment or invoice: a span naming no order with this
    # key belongs to the orders whose own spans carry it
    SCOPE = "scope"  # scopes a span to one order (an EDI transaction set): such a span never
    # inherits its parent's orders, but is not followed to other spans either (numbers are reused)
    WEAK = "weak"  # shared by many orders (EDI envelope numbers, file and batch ids): search only


# Attributes that are business keys, with their role: "find an order by any key" looks every one of
# them up in order_keys; attribution follows only the strong ones (tracing/attribution.py).
KEY_ROLES: Final[dict[str, KeyRole]] = {
    ORDER_ID: KeyRole.ORDER,
    BATCH_ORDER_IDS: KeyRole.ORDER,
    ORDER_CUSTOMER_PO: KeyRole.STRONG,
    ORDER_ECOMMERCE_ID: KeyRole.STRONG,
    EDI_INTERCHANGE_CONTROL_NUMBER: KeyRole.WEAK,
    EDI_GROUP_CONTROL_NUMBER: KeyRole.WEAK,
    EDI_TRANSACTION_SET_CONTROL_NUMBER: KeyRole.SCOPE,
    SHIPMENT_ID: KeyRole.STRONG,
    SHIPMENT_TRACKING_NUMBER: KeyRole.STRONG,
    INVOICE_ID: KeyRole.STRONG,
    BATCH_ID: KeyRole.WEAK,
}
# The same keys; the value says whether the attribute's value *is* an order id.
KEY_ATTRIBUTES: Final[dict[str, bool]] = {name: role is KeyRole.ORDER for name, role in KEY_ROLES.items()}
