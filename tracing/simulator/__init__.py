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

Orders have lines (items, quantities, prices, so a value) from each customer's usual basket.
Exceptions (credit holds, pricing exceptions, stockouts with backorders or split shipments, EDI
mapping errors and reprocessing, envelope rejects, carrier pickup delays and delivery exceptions,
duplicate submissions, late invoices, disputes of orders billed twice) are hop spans carrying
``order.exception.type``, ``order.exception.outcome`` and the system's free-text message; people
resolving them are manual touches and record a reason code. Delays have causes that build up as in
a real network: customers' credit tiers, warehouses' picking capacity on busy days, carriers'
reliability, weekends. Some orders are submitted twice through another channel or file, and some
carry a quantity spike; what the models of ``ai/`` must find is kept apart in a
:class:`~tracing.simulator.truth.GroundTruth`, never on a span.

Modules: :mod:`.config` (rates, configuration), :mod:`.network` (systems, warehouses, carriers),
:mod:`.catalog` (products, customers, order lines), :mod:`.channels` (capture), :mod:`.fulfilment`
(ERP, warehouses, shipping), :mod:`.finance` (invoicing), :mod:`.messages` (exception texts),
:mod:`.truth` and :mod:`.core` (the :class:`Simulator`).

``Simulator(config).generate()`` yields :class:`~tracing.records.SpanRecord` s; the sinks in
:mod:`tracing.sinks` send them over OTLP or write them straight into ClickHouse.
"""

from tracing.simulator.catalog import Customer, OrderContent, Sku
from tracing.simulator.config import (
    DAY,
    DEFAULT_CHANNEL_MIX,
    HOUR,
    MAX_ORDERS,
    MINUTE,
    SECOND,
    ExceptionRates,
    SimulatorConfig,
)
from tracing.simulator.core import CHUNK_ORDERS, Simulator
from tracing.simulator.finance import INVOICE_RUN_MAX
from tracing.simulator.network import CARRIERS, SYSTEMS, WAREHOUSES, System
from tracing.simulator.truth import ExceptionTruth, GroundTruth, OrderTruth

__all__ = [
    "CARRIERS",
    "CHUNK_ORDERS",
    "DAY",
    "DEFAULT_CHANNEL_MIX",
    "HOUR",
    "INVOICE_RUN_MAX",
    "MAX_ORDERS",
    "MINUTE",
    "SECOND",
    "SYSTEMS",
    "WAREHOUSES",
    "Customer",
    "ExceptionRates",
    "ExceptionTruth",
    "GroundTruth",
    "OrderContent",
    "OrderTruth",
    "Simulator",
    "SimulatorConfig",
    "Sku",
    "System",
]
