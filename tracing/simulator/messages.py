"""What systems say when an exception opens: free text whose root cause a router has to work out.

Each exception type has several possible root causes (an invoice fails for missing tax set-up, a bad
bill-to record or a ledger interface timing out), each with a few ways systems word it. Wording
shares vocabulary across causes (a price-list gap is master data, not pricing) and some messages
say nothing useful at all, as real logs do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tracing.conventions import ExceptionType, RootCause

R = RootCause
X = ExceptionType

# exception type -> [(root cause, weight, error.type, message templates)]
_CAUSES: dict[ExceptionType, list[tuple[RootCause, float, str, tuple[str, ...]]]] = {
    X.EDI_MAPPING: [
        (
            R.MASTER_DATA,
            0.55,
            "edi_map_missing_uom",
            (
                "PO1 unit of measure '{uom}' has no mapping for item {sku}",
                "No conversion from {uom} to EA on the item master for {sku}",
                "Buyer part number {bp} is not cross-referenced to an item",
                "Item {sku} is not on the price list for ship-to {store}",
            ),
        ),
        (
            R.PARTNER_EDI,
            0.30,
            "edi_segment_invalid",
            (
                "PO1 segment element 03 '{uom}' is not a valid X12 unit code",
                "N1*ST segment from partner {partner} has no identification code",
                "Mandatory element BEG05 (purchase order date) missing in transaction set {st}",
                "Partner {partner} sent qualifier '{q}' in PO1-06; expected VP or BP",
            ),
        ),
        (
            R.INTEGRATION,
            0.15,
            "translator_error",
            (
                "Translator timed out after {ms} ms mapping transaction set {st}",
                "Could not publish the translated order: broker connection refused",
            ),
        ),
    ],
    X.CREDIT_HOLD: [
        (
            R.CREDIT,
            0.85,
            "",
            (
                "Order total {amount} exceeds available credit {avail} (limit {limit})",
                "Account {acct} has {n} invoices past due over {days} days",
                "Credit review required: risk class {tier} is above the automatic release level",
            ),
        ),
        (
            R.CUSTOMER_DATA,
            0.10,
            "",
            (
                "Bill-to account {acct} has no credit profile: new account set-up incomplete",
                "Sold-to and bill-to disagree on account {acct}; credit check cannot run",
            ),
        ),
        (
            R.INTEGRATION,
            0.05,
            "",
            ("Credit service unreachable (timeout after {ms} ms); order held for a manual check",),
        ),
    ],
    X.PRICING: [
        (
            R.PRICING,
            0.65,
            "",
            (
                "Order price {p1} differs from contract price {p2} for {sku}",
                "Promotion {promo} expired on {date}; price override needed for {sku}",
                "Line price is below the floor margin for {sku} ({pct}% margin)",
            ),
        ),
        (
            R.MASTER_DATA,
            0.35,
            "",
            (
                "No price list entry for item {sku} in price list {pl}",
                "Unit of measure {uom} has no price for {sku}",
            ),
        ),
    ],
    X.STOCKOUT: [
        (
            R.INVENTORY,
            0.8,
            "",
            (
                "Insufficient stock for {sku} at {wh}: available {a}, ordered {qty}",
                "Allocation short {n} line(s) at {wh}: on-hand below safety stock",
                "Cycle count hold on bin {bin} for {sku}",
            ),
        ),
        (
            R.MASTER_DATA,
            0.2,
            "",
            (
                "Item {sku} is not set up as stocked at {wh}",
                "Item {sku} is blocked for sales: status pending set-up",
            ),
        ),
    ],
    X.CARRIER_DELAY: [
        (
            R.CARRIER,
            0.8,
            "",
            (
                "{carrier} missed the scheduled pickup at {wh}",
                "{carrier} capacity shortfall: no trailer available at {wh}",
                "Pickup rescheduled by {carrier} due to weather",
            ),
        ),
        (
            R.INTEGRATION,
            0.2,
            "",
            (
                "Tender to {carrier} failed: API returned HTTP 503",
                "No tender response from {carrier} within {m} minutes (EDI 990 missing)",
            ),
        ),
    ],
    X.CARRIER_EXCEPTION: [
        (
            R.CUSTOMER_DATA,
            0.6,
            "address_not_found",
            (
                "consignee address not found",
                "Ship-to address incomplete: suite number missing",
                "Recipient refused delivery: no PO on file",
                "Delivery address zip {zip} does not match the city",
            ),
        ),
        (
            R.CARRIER,
            0.4,
            "transit_exception",
            (
                "Package damaged in transit at hub {hub}",
                "Delayed: missed connection at hub {hub}",
                "Delivery attempt failed: weather",
            ),
        ),
    ],
    X.INVOICE: [
        (
            R.MASTER_DATA,
            0.5,
            "tax_jurisdiction_missing",
            (
                "tax jurisdiction missing for ship-to",
                "No tax code for item {sku} in jurisdiction {zip}",
                "GL account missing for item class {cls}",
            ),
        ),
        (
            R.CUSTOMER_DATA,
            0.25,
            "bill_to_invalid",
            (
                "Bill-to address missing for account {acct}",
                "Invoice delivery e-mail for customer {acct} bounced",
            ),
        ),
        (
            R.INTEGRATION,
            0.25,
            "ledger_unavailable",
            (
                "Posting to the ledger failed: finance API timeout after {ms} ms",
                "Invoice batch rejected by the e-invoicing gateway (HTTP 502)",
            ),
        ),
    ],
    X.ENVELOPE: [
        (
            R.PARTNER_EDI,
            0.9,
            "isa_envelope_invalid",
            (
                "ISA16 component separator missing",
                "GS08 version {ver} is not agreed with the partner",
                "IEA01 counts 2 functional groups, the interchange has 1",
            ),
        ),
        (R.INTEGRATION, 0.1, "transfer_truncated", ("File truncated during transfer from the VAN mailbox",)),
    ],
    X.DUPLICATE: [
        (
            R.CUSTOMER_DATA,
            1.0,
            "",
            (
                "Customer disputes invoice {inv}: order {po} was already received on an earlier order",
                "Duplicate of an earlier order: same {what}",
            ),
        ),
    ],
}
_CAUSES[X.BACKORDER] = _CAUSES[X.STOCKOUT]
_CAUSES[X.EDI_REJECTED] = _CAUSES[X.ENVELOPE]

# what systems write when they say nothing useful; prefixes and suffixes anyone may add
_VAGUE = (
    "Processing error (code {code}); see the system log",
    "Order {order} needs attention",
    "Exception raised by rule {rule}",
)
_PREFIXES = ("", "", "", "Order {order}: ", "WARN ", "Line {line}: ")
_SUFFIXES = ("", "", "", " (ref {ref})", "; retry scheduled", " - please review")
VAGUE_SHARE = 0.08
MISCODED_SHARE = 0.05  # reason codes people and systems record wrongly


@dataclass(frozen=True)
class ExceptionText:
    root_cause: RootCause
    error_type: str
    message: str


def causes(exception_type: ExceptionType) -> list[RootCause]:
    return [cause for cause, _, _, _ in _CAUSES[exception_type]]


def exception_text(rng: random.Random, exception_type: ExceptionType, **context: str) -> ExceptionText:
    """A root cause for an exception of this type, and how the system words it."""
    options = _CAUSES[exception_type]
    cause, _, error_type, templates = rng.choices(options, [w for _, w, _, _ in options])[0]
    if rng.random() < VAGUE_SHARE:
        template = rng.choice(_VAGUE)
    else:
        template = rng.choice(_PREFIXES) + rng.choice(templates) + rng.choice(_SUFFIXES)
    values = _Values(rng, context)
    return ExceptionText(cause, error_type, template.format_map(values))


def recorded_cause(rng: random.Random, cause: RootCause) -> RootCause:
    """The reason code written when the exception is resolved: right, except now and then."""
    if rng.random() < MISCODED_SHARE:
        return rng.choice([c for c in RootCause if c is not cause])
    return cause


_FIELDS: dict[str, Callable[[random.Random, dict[str, str]], str]] = {
    "uom": lambda rng, ctx: rng.choice(("CA", "BX", "PK", "DZ", "RL", "CS")),
    "sku": lambda rng, ctx: ctx.get("sku", f"SKU-{rng.randint(10000, 99999)}"),
    "bp": lambda rng, ctx: f"BP{rng.randint(100000, 999999)}",
    "store": lambda rng, ctx: f"ST{rng.randint(100, 999)}",
    "partner": lambda rng, ctx: ctx.get("partner", f"PARTNER{rng.randint(10001, 10200)}"),
    "st": lambda rng, ctx: f"{rng.randint(1, 99999):09d}",
    "q": lambda rng, ctx: rng.choice(("IN", "UP", "EN", "ZZ")),
    "ms": lambda rng, ctx: str(rng.choice((5000, 10000, 30000, 60000))),
    "amount": lambda rng, ctx: f"{rng.uniform(2_000, 90_000):,.2f}",
    "avail": lambda rng, ctx: f"{rng.uniform(0, 20_000):,.2f}",
    "limit": lambda rng, ctx: f"{rng.choice((10_000, 25_000, 50_000, 100_000)):,}",
    "acct": lambda rng, ctx: ctx.get("customer", f"C-{rng.randint(10001, 10200)}"),
    "n": lambda rng, ctx: str(rng.randint(1, 6)),
    "days": lambda rng, ctx: str(rng.choice((30, 45, 60, 90))),
    "tier": lambda rng, ctx: ctx.get("credit_tier", rng.choice("ABCD")),
    "p1": lambda rng, ctx: f"{rng.uniform(2, 400):.2f}",
    "p2": lambda rng, ctx: f"{rng.uniform(2, 400):.2f}",
    "promo": lambda rng, ctx: f"PROMO-{rng.randint(100, 999)}",
    "date": lambda rng, ctx: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "pct": lambda rng, ctx: str(rng.randint(1, 9)),
    "pl": lambda rng, ctx: f"PL-{rng.choice(('EAST', 'WEST', 'NATL', 'CONTRACT'))}",
    "wh": lambda rng, ctx: ctx.get("warehouse", "WH"),
    "a": lambda rng, ctx: str(rng.randint(0, 20)),
    "qty": lambda rng, ctx: ctx.get("quantity", str(rng.randint(1, 500))),
    "bin": lambda rng, ctx: f"{rng.choice('ABCDEF')}-{rng.randint(1, 40):02d}-{rng.randint(1, 9)}",
    "carrier": lambda rng, ctx: ctx.get("carrier", "carrier").upper(),
    "m": lambda rng, ctx: str(rng.choice((30, 60, 120))),
    "zip": lambda rng, ctx: f"{rng.randint(10000, 99999)}",
    "hub": lambda rng, ctx: rng.choice(("MEM", "LOU", "IND", "ONT", "DFW", "ATL")),
    "cls": lambda rng, ctx: rng.choice(("FAST", "ELEC", "PLMB", "TOOL")),
    "ver": lambda rng, ctx: rng.choice(("004010", "005010", "003060")),
    "inv": lambda rng, ctx: ctx.get("invoice", f"INV-{rng.randint(900001, 999999)}"),
    "po": lambda rng, ctx: ctx.get("po", f"PO-{rng.randint(10000, 99999)}"),
    "what": lambda rng, ctx: ctx.get("what", "purchase order"),
    "code": lambda rng, ctx: str(rng.randint(1000, 9999)),
    "order": lambda rng, ctx: ctx.get("order", "order"),
    "rule": lambda rng, ctx: f"R{rng.randint(10, 99)}",
    "line": lambda rng, ctx: str(rng.randint(1, 12)),
    "ref": lambda rng, ctx: f"{rng.getrandbits(32):08x}",
}


class _Values(dict[str, str]):
    """Placeholder values made on first use (a template names only a few)."""

    def __init__(self, rng: random.Random, context: dict[str, str]) -> None:
        super().__init__()
        self.rng = rng
        self.context = context

    def __missing__(self, key: str) -> str:
        value = self[key] = _FIELDS[key](self.rng, self.context)
        return value
