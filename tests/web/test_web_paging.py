"""Paging of the exceptions queue and the SLA breach list: page N shows rows N, the total counts all
of them, previous/next links keep the filters, and bad page numbers are refused clearly."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import login, web_settings_for
from fastapi import FastAPI
from fastapi.testclient import TestClient
from orderspans import NOW, base_time, quick_order

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store
from web import create_app

PAGE_SIZE = 2
# five stuck orders (oldest first), each with an open stockout; one on another channel
STUCK = [f"SO-71{i:02d}" for i in range(5)]


@pytest.fixture(scope="module")
def app(module_store: Store, password_hash: str) -> FastAPI:
    for i, order_id in enumerate(STUCK):
        start = base_time() - timedelta(days=2, hours=len(STUCK) - i)
        channel = "edi" if i == 2 else "ecommerce"
        quick_order(module_store, order_id, open_exception="stockout", start=start, channel=channel)
    quick_order(module_store, "SO-7199")  # a touchless order: no exception, no breach
    results = KpiEngine(module_store, load_policy()).run_all()
    assert [r for r in results if r.status != "ok"] == []
    settings = web_settings_for(password_hash).model_copy(update={"page_size": PAGE_SIZE})
    return create_app(settings, module_store, policy=load_policy(), clock=lambda: NOW)


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield login(client, "vera")


def _links(text: str) -> dict[str, str]:
    """rel -> href of the first pager's links, unescaped as a browser would."""
    return {
        rel: html.unescape(href) for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', text)
    }


def test_exceptions_api_pages_through_the_queue_with_the_total(viewer: TestClient) -> None:
    pages = [viewer.get("/api/exceptions", params={"page": n}).json() for n in (1, 2, 3, 4)]
    assert [[e["order_id"] for e in p["items"]] for p in pages] == [STUCK[0:2], STUCK[2:4], STUCK[4:5], []]
    assert {(p["total"], p["page_size"]) for p in pages} == {(5, PAGE_SIZE)}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    # page 1 is what the queue showed before paging existed; the aging counts all open exceptions
    default = viewer.get("/api/exceptions").json()
    assert ([e["order_id"] for e in default["items"]], default["total"], default["page"]) == (
        STUCK[0:2],
        5,
        1,
    )
    assert sum(b["open_exceptions"] for b in pages[1]["aging"]) == 5
    edi = viewer.get("/api/exceptions", params={"channel": "edi", "page": 1}).json()
    assert ([e["order_id"] for e in edi["items"]], edi["total"]) == ([STUCK[2]], 1)


def test_exceptions_page_links_keep_the_filters(viewer: TestClient) -> None:
    first = viewer.get(
        "/exceptions", params={"status": "open", "exception_type": "stockout", "region": "east"}
    )
    assert first.status_code == 200
    assert "5 exception(s) (page 1, oldest first)" in first.text and "1\u20132 of 5" in first.text
    links = _links(first.text)
    assert "prev" not in links
    assert links["next"] == "/exceptions?status=open&exception_type=stockout&region=east&page=2"
    assert "&amp;page=2" in first.text  # autoescaped in the HTML
    second = viewer.get(links["next"])
    shown = re.findall(r'href="/orders/(SO-71\d\d)"', second.text)
    assert shown == STUCK[2:4]
    links = _links(second.text)
    assert links["prev"] == "/exceptions?status=open&exception_type=stockout&region=east&page=1"
    assert links["next"].endswith("region=east&page=3")
    last = viewer.get(links["next"])
    assert re.findall(r'href="/orders/(SO-71\d\d)"', last.text) == STUCK[4:5]
    assert "next" not in _links(last.text)
    # a hostile filter value stays a query parameter, escaped, in the links
    hostile = viewer.get("/exceptions", params={"owner": '"><script>x</script>'})
    assert "<script>x" not in hostile.text


def test_sla_breaches_page_through_with_the_total(viewer: TestClient) -> None:
    params = {"days": 7, "sla": "capture_to_ship", "open_only": "true"}
    all_rows = viewer.get("/api/sla", params={**params, "page": 1}).json()
    total = all_rows["total"]
    assert total == len(STUCK) and all_rows["page_size"] == PAGE_SIZE
    seen = [
        b["order_id"]
        for n in (1, 2, 3)
        for b in viewer.get("/api/sla", params={**params, "page": n}).json()["breaches"]
    ]
    assert sorted(seen) == STUCK  # every breach once, across the pages
    default = viewer.get("/api/sla", params=params).json()
    assert [b["order_id"] for b in default["breaches"]] == [b["order_id"] for b in all_rows["breaches"]]
    page = viewer.get("/sla", params={**params, "page": 2})
    assert page.status_code == 200 and "3\u20134 of 5" in page.text
    second = [b["order_id"] for b in viewer.get("/api/sla", params={**params, "page": 2}).json()["breaches"]]
    assert re.findall(r'href="/orders/(SO-71\d\d)"', page.text) == second
    links = _links(page.text)
    assert links["prev"] == "/sla?days=7&sla=capture_to_ship&open_only=true&page=1"
    assert links["next"] == "/sla?days=7&sla=capture_to_ship&open_only=true&page=3"


@pytest.mark.parametrize("bad", ["0", "-1", "x", "10001", "99999999999999999999", "1.5"])
def test_bad_page_numbers_are_refused(viewer: TestClient, bad: str) -> None:
    for api in ("/api/exceptions", "/api/sla"):
        response = viewer.get(api, params={"page": bad})
        assert response.status_code == 422, (api, bad)
        assert [p["field"] for p in response.json()["detail"]] == ["query.page"]
    for path in ("/exceptions", "/sla"):
        page = viewer.get(path, params={"page": bad})
        assert page.status_code == 400 and "invalid request: query.page" in page.text


def test_paged_views_still_need_a_login(app: FastAPI) -> None:
    with TestClient(app) as anon:
        for path in ("/api/exceptions?page=2", "/api/sla?page=2"):
            assert anon.get(path).status_code == 401
        page = anon.get("/exceptions?page=2", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fexceptions%3Fpage%3D2"
