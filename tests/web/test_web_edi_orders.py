"""An 850 file of several purchase orders through the dashboard: the file name finds every order of
the file, and each order's timeline (API and page) holds the shared file, 997 and batch spans but
never a sibling's translation, PO, reprocessing or mapping exception.

Independent traffic: the EDI gateway, the middleware and the ERP are plain OpenTelemetry SDK
TracerProviders exporting one span per OTLP request to a real collector (tests/support/sdk_orders.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from clock import ANCHOR
from fastapi.testclient import TestClient
from support.sdk_orders import EdiFile, Sender, ns, send_edi_file

from collector.testing import running_collector
from storage import Store

ORDERS = ["SO-WEDI-1", "SO-WEDI-2", "SO-WEDI-3"]


@pytest.fixture(scope="module")
def edi_file(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdiFile]:
    """Three POs in one file; the second fails translation and an analyst reprocesses it."""
    start = ns((ANCHOR - timedelta(days=4)).replace(hour=8, minute=2, second=3)) + 250_000_000
    with running_collector(module_store, tmp_path_factory.mktemp("edi-spool")) as collector:
        sender = Sender(collector.http_endpoint)
        try:
            sent = send_edi_file(sender, start, ORDERS, failed=[ORDERS[1]], tag="W")
        finally:
            sender.shutdown()
        assert collector.wait_drained(timeout=60)
    yield sent


def test_the_file_name_envelope_numbers_and_batch_id_find_the_files_orders(
    viewer: TestClient, edi_file: EdiFile
) -> None:
    for key in (edi_file.file_name, edi_file.isa, edi_file.gs):
        matches = viewer.get("/api/search", params={"q": key}).json()
        assert sorted({m["order_id"] for m in matches}) == ORDERS, (key, matches)
    # the middleware's batch lists the two POs that translated; the failed one came in alone
    matches = viewer.get("/api/search", params={"q": edi_file.batch_id}).json()
    assert sorted({m["order_id"] for m in matches}) == [ORDERS[0], ORDERS[2]]
    # the search page lists the file's orders instead of jumping to one of them
    page = viewer.get("/", params={"q": edi_file.file_name}, follow_redirects=False)
    assert page.status_code == 200 and all(order in page.text for order in ORDERS)
    # a PO leads to its own order's page
    page = viewer.get("/", params={"q": edi_file.pos[ORDERS[2]]}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/orders/{ORDERS[2]}"


@pytest.mark.parametrize("order", ORDERS)
def test_each_orders_timeline_holds_the_shared_spans_and_only_its_own_po(
    viewer: TestClient, edi_file: EdiFile, order: str
) -> None:
    failed = ORDERS[1]
    siblings = [o for o in ORDERS if o != order]
    timeline = viewer.get(f"/api/orders/{order}/timeline").json()
    names = sorted(s["name"] for s in timeline["spans"])
    own = ["reprocess 850", "translate 850"] if order == failed else ["translate 850"]
    batch = [] if order == failed else ["split 850 batch"]
    assert names == sorted(
        ["receive 850 file", "send 997", "map canonical order", "credit check", *own, *batch]
    )
    assert timeline["keys"]["order.customer_po"] == [edi_file.pos[order]]
    assert timeline["keys"]["edi.transaction_set_control_number"] == [edi_file.st02[order]]
    assert edi_file.file_name in timeline["keys"]["order.batch.id"]
    touches = [(t["stage"], t["user"]) for t in timeline["manual_touches"]]
    cases = [c["type"] for c in timeline["exception_cases"]]
    if order == failed:
        assert touches == [("capture", "edi.analyst@distributor.example")] and cases == ["edi_mapping"]
    else:
        assert touches == [] and cases == [] and timeline["errors"] == []
    page = viewer.get(f"/orders/{order}")
    assert page.status_code == 200 and edi_file.pos[order] in page.text
    for sibling in siblings:  # the page shows no sibling's PO or transaction set
        assert edi_file.pos[sibling] not in page.text, sibling
        assert edi_file.st02[sibling] not in page.text, sibling
    assert ("edi_mapping" in page.text) == (order == failed)
