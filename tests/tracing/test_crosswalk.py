"""The crosswalk: any business key leads to its order(s); an order's spans are stitched across
traces by keys, span links (both directions) and batch spans."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scenarios import KEYS_OF_SO_1001, batch_of, edi_split_order, linked_order
from support.spans import insert

from storage import Store
from tracing.crosswalk import CrosswalkError, order_spans
from tracing.timeline import find_orders, order_timeline


@pytest.fixture(scope="module")
def loaded(module_store: Store) -> Iterator[Store]:
    insert(module_store, edi_split_order() + linked_order() + batch_of(500))
    yield module_store


@pytest.mark.parametrize(("key", "key_type"), sorted(KEYS_OF_SO_1001.items()))
def test_every_key_of_the_edi_order_finds_it(loaded: Store, key: str, key_type: str) -> None:
    matches = find_orders(loaded, key)
    assert "SO-1001" in [m.order_id for m in matches]
    found = next(m for m in matches if m.order_id == "SO-1001")
    assert key_type in found.key_types
    assert found.key == key


def test_keys_are_trimmed(loaded: Store) -> None:
    assert [m.order_id for m in find_orders(loaded, "  PO-4711\n")] == ["SO-1001"]


def test_consolidated_invoice_lists_every_order_on_it(loaded: Store) -> None:
    matches = find_orders(loaded, "INV-9")
    assert [m.order_id for m in matches] == ["SO-1001", "SO-1003"]
    assert {m.via for m in matches} == {"link"}


def test_batch_file_keys_lead_to_every_order_in_the_file(loaded: Store) -> None:
    assert sorted(m.order_id for m in find_orders(loaded, "B-77")) == ["SO-1001", "SO-1002"]
    assert sorted(m.order_id for m in find_orders(loaded, "000000101")) == ["SO-1001", "SO-1002"]


def test_tracking_number_only_span_is_stitched_to_its_order(loaded: Store) -> None:
    stitched = order_spans(loaded, "SO-1001")
    deliveries = [s for s in stitched.spans if s.attributes.get("order.stage") == "deliver"]
    assert [s.attributes["shipment.tracking_number"] for s in deliveries] == ["1Z001", "1Z002"]
    assert all(not s.order_id for s in deliveries)
    assert {stitched.via[s.ref] for s in deliveries} == {"key:shipment.tracking_number"}
    # seven traces: batch file, middleware, ERP, two WMS, two carrier; plus the finance trace
    assert len(stitched.trace_ids) == 8


def test_other_orders_in_a_shared_trace_stay_out(loaded: Store) -> None:
    stitched = order_spans(loaded, "SO-1001")
    assert all(s.order_id in ("", "SO-1001") for s in stitched.spans)
    assert not any(s.attributes.get("order.customer_po") == "PO-5000" for s in stitched.spans)
    other = order_spans(loaded, "SO-1002")
    assert sorted(s.name for s in other.spans) == ["edi.capture", "edi.validation", "translate 850"]


def test_translation_span_without_order_id_joins_by_po_not_by_shared_envelope(loaded: Store) -> None:
    stitched = order_spans(loaded, "SO-1001")
    translations = [s for s in stitched.spans if s.name == "translate 850"]
    # both translations share the interchange number; only the one with SO-1001's PO belongs
    assert [(s.attributes["order.customer_po"], stitched.via[s.ref]) for s in translations] == [
        ("PO-4711", "key:order.customer_po")
    ]


def test_span_links_are_followed_in_both_directions(loaded: Store) -> None:
    stitched = order_spans(loaded, "SO-2001")
    by_name = {s.service: stitched.via[s.ref] for s in stitched.spans}
    # webshop -> link -> pricing-batch (the order's span links out to a nightly job)
    # erp-poller -> link -> webshop (a span in another trace links into the order's trace)
    assert by_name == {"webshop": "order", "pricing-batch": "link", "erp-poller": "linked_from"}
    timeline = order_timeline(loaded, "SO-2001")
    assert [h.system for h in timeline.hops] == ["webshop", "pricing-batch", "erp-poller"]
    # the other order's span in the nightly job's trace is not part of SO-2001
    assert all(s.attributes.get("order.id") != "SO-9999" for s in timeline.spans)


def test_the_invoice_is_reached_by_its_link_into_the_order(loaded: Store) -> None:
    stitched = order_spans(loaded, "SO-1001")
    invoice = [s for s in stitched.spans if s.attributes.get("invoice.id") == "INV-9"]
    assert len(invoice) == 1 and stitched.via[invoice[0].ref] == "linked_from"
    assert any(s.attributes.get("invoice.id") == "INV-9" for s in order_spans(loaded, "SO-1003").spans)


def test_a_batch_span_with_500_orders_resolves_for_each_of_them(loaded: Store) -> None:
    orders = [f"SO-5{i:04d}" for i in range(500)]
    for order in orders:
        matches = find_orders(loaded, order)
        assert [m.order_id for m in matches] == [order]
        assert matches[0].key_types == ["order.batch.order_ids", "order.id"]
    by_batch = find_orders(loaded, "B-500")
    assert sorted(m.order_id for m in by_batch) == orders
    for order in orders[::97]:
        timeline = order_timeline(loaded, order)
        assert [(h.stage, h.system) for h in timeline.hops] == [
            ("capture", "edi-gateway"),
            ("validation", "erp-east"),
        ]
        assert [s.via for s in timeline.spans] == ["batch", "order"]
        assert len(timeline.spans) == 2  # not the 499 other orders' spans


def test_unknown_keys_find_nothing(loaded: Store) -> None:
    assert find_orders(loaded, "SO-404") == []
    assert find_orders(loaded, "' OR 1=1 --") == []
    assert find_orders(loaded, "%") == []


@pytest.mark.parametrize(
    ("key", "message"),
    [("", "empty"), ("   ", "empty"), ("x" * 300, "at most 256"), ("SO-1\x00", "control characters")],
)
def test_bad_keys_get_a_clear_error(loaded: Store, key: str, message: str) -> None:
    with pytest.raises(CrosswalkError, match=message):
        find_orders(loaded, key)
