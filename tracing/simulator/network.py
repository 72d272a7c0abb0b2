"""The distributor's systems, warehouses and carriers, and how each performs (hidden from the spans)."""

from __future__ import annotations

from dataclasses import dataclass

from tracing import conventions as c
from tracing.conventions import SystemKind


@dataclass(frozen=True)
class System:
    instance: str
    kind: SystemKind
    resource: dict[str, str]


def _system(instance: str, kind: SystemKind, **extra: str) -> System:
    resource = {
        c.SERVICE_NAME: instance,
        c.SERVICE_INSTANCE_ID: f"{instance}-1",
        c.SYSTEM_KIND: str(kind),
        c.SYSTEM_INSTANCE: instance,
        **extra,
    }
    return System(instance, kind, resource)


WEB_SHOP = _system("web-shop", SystemKind.ECOMMERCE)
B2B_PORTAL = _system("b2b-portal", SystemKind.ECOMMERCE)
EDI_GATEWAY = _system("edi-gateway", SystemKind.EDI)
MIDDLEWARE = _system("middleware", SystemKind.MIDDLEWARE)
ERPS = {
    "east": _system("erp-east", SystemKind.ERP, **{c.REGION: "east"}),
    "west": _system("erp-west", SystemKind.ERP, **{c.REGION: "west"}),
}
WMS = _system("wms", SystemKind.WMS)
TMS = _system("tms", SystemKind.TMS)
FINANCE = _system("finance-cloud", SystemKind.FINANCE)
CARRIERS = {
    "ups": _system("carrier-ups", SystemKind.CARRIER),
    "fedex": _system("carrier-fedex", SystemKind.CARRIER),
    "xpo": _system("carrier-xpo", SystemKind.CARRIER),
}
# each region's warehouses, the ERP's default (primary) first
WAREHOUSES = {"east": ("WH-ATL", "WH-NJ"), "west": ("WH-DAL", "WH-RNO")}
SYSTEMS: tuple[System, ...] = (
    WEB_SHOP,
    B2B_PORTAL,
    EDI_GATEWAY,
    MIDDLEWARE,
    *ERPS.values(),
    WMS,
    TMS,
    FINANCE,
    *CARRIERS.values(),
)
OUR_EDI_ID = "DISTRIBUTOR01"
QUEUE = "orders.inbound"

# -- how the network performs: the simulator's hidden truth, never written on a span -----------------

PRIMARY_SHARE = 0.65  # the ERP allocates to the region's primary warehouse this often, else the other
FAMILIES = ("fasteners", "electrical", "plumbing", "tools", "safety", "packaging")


@dataclass(frozen=True)
class WarehouseProfile:
    """Pick capacity (as a multiple of the warehouse's share of the order rate, per open hour) and the
    odds factor of a stock-out per product family."""

    capacity: float
    stockout: tuple[float, ...]


WAREHOUSE_PROFILES = {
    "WH-ATL": WarehouseProfile(1.6, (0.3, 6.0, 0.4, 1.2, 0.4, 0.7)),
    "WH-NJ": WarehouseProfile(1.15, (1.2, 0.3, 5.0, 0.4, 1.5, 0.5)),
    "WH-DAL": WarehouseProfile(1.5, (0.4, 0.5, 0.3, 6.0, 1.2, 0.4)),
    "WH-RNO": WarehouseProfile(1.1, (5.0, 0.6, 0.5, 0.3, 0.4, 5.0)),
}
# odds factor of a missed pickup per carrier
CARRIER_DELAY = {"ups": 0.5, "fedex": 1.0, "xpo": 2.6}
