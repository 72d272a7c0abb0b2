"""Span attributes are attacker-controlled: every page renders them inert (cf. Grafana CVE-2023-0594)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from orderspans import Hop, base_time, insert_order, quick_order

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
JS_LINK = "javascript:alert(3)"
SVG = "</text><script>alert(4)</script><text>"
HOSTILE_ORDER = "SO-<b>evil</b>"


@pytest.fixture(scope="module")
def hostile(module_store: Store) -> Store:
    store = module_store
    t0 = base_time()
    insert_order(
        store,
        HOSTILE_ORDER,
        [
            Hop("capture", SCRIPT, "ecommerce", t0, 1, {"note": IMG, "link": JS_LINK}),
            Hop(
                "validation",
                SVG,
                "middleware",
                t0 + timedelta(minutes=5),
                2,
                {"customer.id": IMG},
                status="Error",
                status_message=SCRIPT,
                events=[(t0 + timedelta(minutes=6), IMG, {"detail": SCRIPT, "order.exception.type": SVG})],
            ),
        ],
        {"order.customer_po": IMG, "order.channel": SCRIPT, "shipment.tracking_number": JS_LINK},
    )
    quick_order(store, "SO-9" + IMG, open_exception=IMG, channel=SCRIPT, region=JS_LINK)
    assert all(r.status == "ok" for r in KpiEngine(store, load_policy()).run_all())
    return store


def _assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert 'href="javascript:' not in html
    assert "onerror=alert(2)>" not in html or "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>evil</b>" not in html


def test_timeline_page_escapes_span_attributes(hostile: Store, viewer: TestClient) -> None:
    page = viewer.get("/orders/" + HOSTILE_ORDER)
    assert page.status_code == 200
    _assert_inert(page.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page.text
    assert "&lt;/text&gt;&lt;script&gt;alert(4)" in page.text  # inside the SVG too
    # the javascript: key is shown as text and linked only as a search for itself
    assert 'href="/?q=javascript%3Aalert%283%29"' in page.text


def test_search_results_escape_the_key(hostile: Store, viewer: TestClient) -> None:
    page = viewer.get("/", params={"q": SCRIPT})
    _assert_inert(page.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_json_api_carries_the_text_as_data(hostile: Store, viewer: TestClient) -> None:
    response = viewer.get("/api/orders/" + HOSTILE_ORDER + "/timeline")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["hops"][0]["system"] == SCRIPT  # unchanged data, for API clients to handle
    assert body["channel"] == SCRIPT


def test_hostile_search_finds_the_order(hostile: Store, viewer: TestClient) -> None:
    response = viewer.get("/", params={"q": IMG}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/orders/SO-%3Cb%3Eevil%3C%2Fb%3E"


@pytest.mark.parametrize(
    "path",
    [
        "/exceptions?status=",
        "/sla?days=7",
        "/kpis?days=7",
        "/kpis/orders/orders?days=7",
        "/kpis/touchless_rate/orders?days=7",
        "/systems?window_s=604800&days=7",
        "/",
    ],
)
def test_every_page_renders_hostile_values_inert(hostile: Store, viewer: TestClient, path: str) -> None:
    page = viewer.get(path)
    assert page.status_code == 200, page.text[:500]
    _assert_inert(page.text)


def test_hostile_values_do_reach_the_pages_escaped(hostile: Store, viewer: TestClient) -> None:
    queue = viewer.get("/exceptions", params={"status": ""}).text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in queue  # the exception type, as text
    systems = viewer.get("/systems", params={"window_s": 604800, "days": 7}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in systems  # a system name, inside the SVG map too
    drill = viewer.get("/kpis/orders/orders", params={"days": 7, "channel": SCRIPT})
    assert "Channel: &lt;script&gt;alert(1)&lt;/script&gt;" in drill.text
