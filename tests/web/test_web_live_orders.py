"""Live orders: a hop is on its order's timeline as soon as the collector acknowledged it.

Independent traffic: each system is a plain OpenTelemetry SDK TracerProvider exporting with
``SimpleSpanProcessor`` + ``OTLPSpanExporter`` (one span per OTLP request) to a real collector. After
each acknowledged request the only wait is the collector's own write (``wait_drained``); then the
order is looked up as ops would while a customer is on the phone: the search API, the timeline API
and ``tower trace``. Every hop sent so far must be there — the carrier's scan that carries only a
tracking number included — each in a single-row part of its own, at hostile times: half a second
into a second (the last second of a time bound), a day's last nanoseconds, a new day.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from clock import ANCHOR
from fastapi.testclient import TestClient
from support.sdk_orders import SECOND_NS, Sender, ns, order_keys, plain_order_steps, send_step

from collector.testing import running_collector
from storage import Store
from tower.commands.trace import lookup_in_store


@pytest.mark.parametrize("receivers", [0, 2], ids=["in-process", "receiver-processes"])
def test_each_acknowledged_hop_is_on_the_timeline_at_once(
    module_store: Store, viewer: TestClient, tmp_path: Path, receivers: int
) -> None:
    """In the collector's process and through receiver processes (as ``tower serve`` runs them),
    whose spools would hold a lone request for an hour (flush_interval_s) if nothing sealed it."""
    order_id = f"SO-LIVE-{7 + receivers}"
    order = order_keys(order_id)
    # 15:30:50.5 three days before the anchor: the first hop lies in the last second of any
    # second-granular bound computed from it
    start = ns((ANCHOR - timedelta(days=3)).replace(hour=15, minute=30, second=50)) + SECOND_NS // 2
    steps = plain_order_steps(order, start)
    # the delivery scan in the day's last nanosecond, the invoice a nanosecond into the next day
    midnight = ns((ANCHOR - timedelta(days=1)).replace(hour=0, minute=0, second=0))
    steps[6].update(start=midnight - 1, end=midnight + SECOND_NS)
    steps[7].update(start=midnight + 1, end=midnight + SECOND_NS // 5)
    # the key each hop's system would give ops: the web id, the order id, ..., the tracking number
    keys = [
        order.web_id,
        order_id,
        order_id,
        order_id,
        order_id,
        order.shipment,
        order.tracking,
        order.invoice,
    ]
    with running_collector(
        module_store, tmp_path / "spool", receivers=receivers, flush_interval_s=3600.0
    ) as collector:
        sender = Sender(collector.http_endpoint)
        try:
            for n, (step, key) in enumerate(zip(steps, keys, strict=True), 1):
                send_step(sender, step)  # returns once the collector acknowledged the request
                assert collector.wait_drained(timeout=30)
                matches = viewer.get("/api/search", params={"q": key}).json()
                assert [m["order_id"] for m in matches] == [order_id], (n, key, matches)
                response = viewer.get(f"/api/orders/{order_id}/timeline")
                assert response.status_code == 200, (n, response.text)
                timeline = response.json()
                assert [(h["stage"], h["system"]) for h in timeline["hops"]] == [
                    (s["attrs"]["order.stage"], s["attrs"]["system.instance"]) for s in steps[:n]
                ], n
                trace = lookup_in_store(module_store, key, 1)
                assert [len(t.hops) for t in trace.timelines] == [n]
        finally:
            sender.shutdown()
    day_before = (ANCHOR - timedelta(days=2)).date().isoformat()
    assert timeline["hops"][6]["start"].startswith(f"{day_before}T23:59:59.999999")
    assert [s["via"] for s in timeline["spans"] if s["name"] == "delivery"] == [
        "key:shipment.tracking_number"
    ]


def test_a_waiting_order_says_where_it_waits_and_that_it_is_late(
    module_store: Store, viewer: TestClient, tmp_path: Path
) -> None:
    """Backordered at erp-west days ago and nothing since: the API and the page say it waits at
    erp-west for the backorder, and that it is late against its SLA."""
    order = order_keys("SO-WAITING-3")
    steps = plain_order_steps(order, ns(ANCHOR - timedelta(days=6)), erp="erp-west")[:5]
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
    timeline = viewer.get("/api/orders/SO-WAITING-3/timeline").json()
    state = timeline["state"]
    assert (state["holder"], state["activity"], state["waiting_for"]) == (
        "erp-west",
        "waiting",
        "backorder at erp-west",
    )
    assert state["idle_ns"] > 5 * 24 * 3600 * SECOND_NS
    assert timeline["longest_system"]["system"] == "erp-west"
    assert state["late"] is True and "capture_to_ship" in state["late_slas"]
    assert {s["sla"]: s["state"] for s in timeline["sla"]}["capture_to_ship"] == "breached"
    page = viewer.get("/orders/SO-WAITING-3").text
    assert "Waiting at" in page and "for backorder at erp-west" in page
    assert '<span class="badge warn">late</span>' in page and "Capture to ship SLA" in page
