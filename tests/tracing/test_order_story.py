"""The order story on independent traffic: multi-PO EDI files with reprocessing, keys that arrive
late, and long waits — every view (timeline, search, KPI facts, SLA breaches, exception queue) tells
each order's story from its own spans and the spans it shares, never a sibling's.

Traffic is made by hand with the plain OpenTelemetry SDK (tests/support/sdk_orders.py), one span per
OTLP request through a real collector; nothing here comes from the simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clock import ANCHOR
from rich.console import Console
from support.sdk_orders import (
    DAY_NS,
    HOUR_NS,
    SECOND_NS,
    EdiFile,
    Sender,
    hop,
    ns,
    order_keys,
    plain_order_steps,
    send_edi_file,
    send_step,
)

from collector.testing import running_collector
from kpis import reports as service
from kpis.jobs import KpiEngine
from kpis.order_sla import order_sla
from kpis.policy import Policy, load_policy
from storage import Store
from tower.commands.trace import TraceResult, render
from tracing.timeline import find_orders, order_timeline, with_sla

FILE_START = ns((ANCHOR - timedelta(days=6)).replace(hour=9, minute=15, second=7)) + 123_456_789
LATE_START = FILE_START + DAY_NS


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def files(
    module_store: Store, tmp_path_factory: pytest.TempPathFactory, policy: Policy
) -> Iterator[dict[str, EdiFile]]:
    """Two 850 files of three POs each, the second PO of each failing translation and reprocessed by
    an analyst; the second file's order traces are sent before the gateway's spans (late keys)."""
    spool = tmp_path_factory.mktemp("story-spool")
    with running_collector(module_store, spool) as collector:
        sender = Sender(collector.http_endpoint)
        try:
            sent = {
                "in order": send_edi_file(
                    sender,
                    FILE_START,
                    ["SO-E1", "SO-E2", "SO-E3"],
                    failed=["SO-E2"],
                    resumed_after_ns=2 * HOUR_NS,
                ),
                "orders first": send_edi_file(
                    sender,
                    LATE_START,
                    ["SO-L1", "SO-L2", "SO-L3"],
                    failed=["SO-L2"],
                    tag="L",
                    orders_first=True,
                ),
            }
        finally:
            sender.shutdown()
        assert collector.wait_drained(timeout=60)
    results = KpiEngine(module_store, policy).recompute()
    assert [r.status for r in results] == ["ok"] * len(results), [r.error for r in results]
    yield sent


def _names(store: Store, order: str) -> list[tuple[str, str]]:
    return sorted(
        (s.name, s.attributes.get("order.customer_po", "")) for s in order_timeline(store, order).spans
    )


@pytest.mark.parametrize("which", ["in order", "orders first"])
def test_each_order_holds_the_shared_spans_and_only_its_own_translation(
    module_store: Store, files: dict[str, EdiFile], which: str
) -> None:
    file = files[which]
    failed = file.orders[1]
    for order in file.orders:
        timeline = order_timeline(module_store, order)
        names = [(s.name, s.attributes.get("order.customer_po", "")) for s in timeline.spans]
        # the file and its 997 are shared by every order of the file
        assert names.count(("receive 850 file", "")) == 1, (order, names)
        assert names.count(("send 997", "")) == 1
        # its own translation, never a sibling's
        translations = [po for name, po in names if name in ("translate 850", "reprocess 850")]
        expected = [file.pos[order], file.pos[order]] if order == failed else [file.pos[order]]
        assert translations == expected, (order, names)
        # the middleware batch is shared by the orders it lists (the failed PO came in alone)
        assert (("split 850 batch", "") in names) == (order != failed)
        # it lists only its own keys: its PO and ST02, the file's envelope and name
        assert timeline.keys["order.customer_po"] == [file.pos[order]]
        assert timeline.keys["edi.transaction_set_control_number"] == [file.st02[order]]
        assert timeline.keys["edi.interchange_control_number"] == [file.isa]
        assert file.file_name in timeline.keys["order.batch.id"]
        # the file is the order's first hop: captured when the file came in
        assert timeline.hops[0].name == "receive 850 file"
        assert timeline.start == datetime.fromtimestamp(file_start(which) // 1000 / 1e6, UTC)
        via = {s.name: s.via for s in timeline.spans}
        assert via["receive 850 file"] in ("link", "child") and via["send 997"] == "parent"


def file_start(which: str) -> int:
    return FILE_START if which == "in order" else LATE_START


@pytest.mark.parametrize("which", ["in order", "orders first"])
def test_a_siblings_reprocessing_and_mapping_exception_stay_with_the_sibling(
    module_store: Store, files: dict[str, EdiFile], which: str
) -> None:
    ok, failed, other = files[which].orders
    for order in (ok, other):
        timeline = order_timeline(module_store, order)
        assert timeline.manual_touches == [] and timeline.exception_cases == [] and timeline.errors == []
    timeline = order_timeline(module_store, failed)
    assert [(t.stage, t.user) for t in timeline.manual_touches] == [
        ("capture", "edi.analyst@distributor.example")
    ]
    [case] = timeline.exception_cases
    assert (case.type, case.open, case.duration_ns) == (
        "edi_mapping",
        False,
        3 * HOUR_NS - 2 * SECOND_NS - SECOND_NS // 2,
    )
    assert [e.error_type for e in timeline.errors] == ["edi_map_missing_uom"]


@pytest.mark.parametrize("which", ["in order", "orders first"])
def test_the_file_name_envelope_and_batch_find_every_order_of_the_file(
    module_store: Store, files: dict[str, EdiFile], which: str
) -> None:
    file = files[which]
    for key in (file.file_name, file.isa, file.gs):
        assert sorted(m.order_id for m in find_orders(module_store, key)) == file.orders, key
    ok, _failed, other = file.orders
    assert sorted(m.order_id for m in find_orders(module_store, file.batch_id)) == [ok, other]
    for order in file.orders:  # a PO or a transaction-set number leads to its order only
        assert [m.order_id for m in find_orders(module_store, file.pos[order])] == [order]
        assert [m.order_id for m in find_orders(module_store, file.st02[order])] == [order]


def test_kpi_facts_sla_breaches_and_exception_queue_count_only_each_orders_own_work(
    module_store: Store, files: dict[str, EdiFile], policy: Policy
) -> None:
    facts = {
        r["OrderId"]: r
        for r in module_store.rows(
            "SELECT OrderId, CaptureAt, HopCount, ManualTouchCount, ExceptionTypes, ErrorCount FROM order_facts FINAL"
        )
    }
    for which, file in files.items():
        failed = file.orders[1]
        for order in file.orders:
            fact = facts[order]
            # file, 997 and the order's own translation(s), canonical order and credit check; the
            # batch for the orders it lists
            assert fact["HopCount"] == 6, (order, fact)
            assert fact["CaptureAt"] == datetime.fromtimestamp(
                file_start(which) // 1_000_000 / 1000, UTC
            ).replace(tzinfo=None)
            assert (fact["ManualTouchCount"], list(fact["ExceptionTypes"]), fact["ErrorCount"]) == (
                (1, ["edi_mapping"], 1) if order == failed else (0, [], 0)
            ), order
    queue = service.exceptions_queue(module_store, policy, status="", limit=100).items
    assert sorted((e.order_id, e.exception_type, e.status) for e in queue) == [
        ("SO-E2", "edi_mapping", "resolved"),
        ("SO-L2", "edi_mapping", "resolved"),
    ]
    # order entry (EDI: 1 h from capture end to validation end) breached only by SO-E2, whose
    # reprocessed PO reached the middleware two hours late; its siblings' clocks are their own
    now = datetime.fromtimestamp(FILE_START / 1e9, UTC) + timedelta(days=30)
    breaches = service.sla_breaches(module_store, policy, limit=100, now=now)
    assert sorted((b.order_id, b.sla) for b in breaches if b.sla == "order_entry") == [
        ("SO-E2", "order_entry")
    ]
    e2 = next(b for b in breaches if b.order_id == "SO-E2" and b.sla == "order_entry")
    assert round(e2.elapsed_s) == 2 * 3600 + 1


def test_late_keys_attribute_spans_that_arrived_before_their_order(
    module_store: Store, tmp_path: Path
) -> None:
    """A carrier scan with only a tracking number, a consolidated invoice with only its number and
    a translation with only a PO, each sent before (or days before, in event time) the span that
    ties its key to the order, in separate requests: each lands on the order when the key arrives."""
    order = order_keys("SO-LATE-1")
    start = ns((ANCHOR - timedelta(days=10)).replace(hour=23, minute=59, second=59)) + 999_999_999
    steps = plain_order_steps(order, start)
    del steps[7]["attrs"]["order.id"]  # the invoice names only its number
    steps[5]["attrs"]["invoice.id"] = order.invoice  # the ship confirmation ties it to the order
    po = "PO-LATE-1"
    with running_collector(module_store, tmp_path / "spool") as collector:
        sender = Sender(collector.http_endpoint)
        try:
            # first the spans with keys only: nothing ties them to an order yet
            send_step(sender, steps[6])  # carrier scan, tracking number only
            send_step(sender, steps[7])  # invoice, invoice number only
            # a translation with only the PO, timestamped nine days before the order's first hop
            # (1 ns before a midnight): beyond any look-back window
            sender.span(
                "edi-gateway",
                "translate 850",
                start - 9 * DAY_NS - SECOND_NS,
                start - 9 * DAY_NS - 1,
                hop(
                    "capture",
                    "edi-gateway",
                    "edi",
                    **{"order.customer_po": po, "edi.transaction_set_control_number": "0042"},
                ),
            )
            assert collector.wait_drained(timeout=30)
            assert find_orders(module_store, order.tracking) == []
            # then the order's own spans, one request each; the web checkout carries the PO
            steps[0]["attrs"]["order.customer_po"] = po
            for step in steps[:6]:
                send_step(sender, step)
            assert collector.wait_drained(timeout=30)
        finally:
            sender.shutdown()
    timeline = order_timeline(module_store, "SO-LATE-1")
    assert [h.stage for h in timeline.hops] == [
        "capture", "capture", "validation", "credit", "allocation", "pick", "ship", "deliver", "invoice",
    ]  # fmt: skip
    via = {s.name: s.via for s in timeline.spans}
    assert via["delivery"] == "key:shipment.tracking_number"
    assert via["post invoice"] == "key:invoice.id"
    assert via["translate 850"] == "key:order.customer_po"
    for key in (order.tracking, order.invoice, po, "0042"):
        assert [m.order_id for m in find_orders(module_store, key)] == ["SO-LATE-1"], key


def test_a_long_wait_says_who_holds_the_order_since_when_and_that_it_is_late(
    module_store: Store, tmp_path: Path, policy: Policy
) -> None:
    """Allocated with a backorder at erp-west, then nothing for 5 days 13 hours."""
    order = order_keys("SO-WAIT-1")
    start = ns((ANCHOR - timedelta(days=8)).replace(hour=10, minute=0, second=0))
    steps = plain_order_steps(order, start, erp="erp-west")[:5]  # up to a first partial pick
    steps[3]["attrs"].update(
        {
            "order.status": "backordered",
            "order.exception.type": "backorder",
            "order.exception.outcome": "opened",
        }
    )
    with running_collector(module_store, tmp_path / "spool") as collector:
        sender = Sender(collector.http_endpoint)
        try:
            for step in steps:
                send_step(sender, step)
            assert collector.wait_drained(timeout=30)
        finally:
            sender.shutdown()
    last_end = steps[4]["end"]
    now = datetime.fromtimestamp(last_end / 1e9, UTC) + timedelta(days=5, hours=13)
    timeline = order_timeline(module_store, "SO-WAIT-1", as_of=now)
    state = timeline.state
    assert (state.status, state.activity, state.holder, state.waiting_for) == (
        "open",
        "waiting",
        "erp-west",
        "backorder at erp-west",
    )
    assert state.idle_ns == (5 * 24 + 13) * HOUR_NS
    assert state.open_exceptions == ["backorder"]
    # held longest by the ERP it waits at, not by the WMS's 15-minute pick
    assert timeline.longest_system is not None and timeline.longest_system.system == "erp-west"
    assert timeline.longest_system.waiting_ns > 5 * DAY_NS
    # late against its SLA: captured over 5 days ago and not shipped (capture_to_ship: 48 h)
    judged = with_sla(timeline, order_sla(module_store, policy, timeline, now))
    assert judged.state.late is True and "capture_to_ship" in judged.state.late_slas
    console = Console(record=True, width=200)
    render(TraceResult("SO-WAIT-1", find_orders(module_store, "SO-WAIT-1"), [judged], "store"), console)
    text = console.export_text()
    assert "now: waiting at erp-west for backorder at erp-west for 5d 13h" in text
    assert "LATE against its SLA: capture_to_ship breached" in text
    assert "held longest by erp-west" in text and "wms 17m" not in text
