"""Exception types of any text, through the dashboard: an exception whose type has slashes, quotes
or a script tag (span attributes are whatever the sending system wrote) is listed, opened,
assigned and resolved by following the pages' own links and forms, and its text is shown escaped."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from conftest import csrf_of
from fastapi.testclient import TestClient
from markupsafe import escape
from orderspans import NOW, base_time, quick_order

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store

HOSTILE = {
    "SO-7101": "stock out/west/../../admin",
    "SO-7102": "credit hold 'manual' \"urgent\"",
    "SO-7103": "<script>alert(1)</script>",
}


@pytest.fixture(scope="module")
def exceptions(module_store: Store) -> Store:
    for order_id, kind in HOSTILE.items():
        quick_order(module_store, order_id, open_exception=kind, start=base_time() - timedelta(days=1))
    results = KpiEngine(module_store, load_policy()).run_all()
    assert [r for r in results if r.status != "ok"] == []
    return module_store


def link_to(page: str, order_id: str) -> str:
    """The href of the queue row's exception link for ``order_id`` (as the browser would follow it)."""
    found = re.findall(r'href="(/exceptions/[^"]+/' + re.escape(order_id) + ')"', page)
    assert len(found) == 1, found
    return html.unescape(found[0])


def form_action(page: str, action: str) -> str:
    found = re.findall(r'action="(/exceptions/[^"]+/' + action + '/[^"]+)"', page)
    assert len(found) == 1, (action, found)
    return html.unescape(found[0])


@pytest.mark.parametrize("order_id", sorted(HOSTILE))
def test_open_assign_and_resolve_an_exception_of_any_type(
    exceptions: Store, viewer: TestClient, ops: TestClient, order_id: str
) -> None:
    kind = HOSTILE[order_id]
    queue = viewer.get("/exceptions")
    assert queue.status_code == 200
    assert "<script>alert(1)</script>" not in queue.text  # listed, escaped
    href = link_to(queue.text, order_id)
    assert href.count("/") == 3  # /exceptions/<type>/<order>: the type is one path segment

    opened = ops.get(href)
    assert opened.status_code == 200, opened.text[:300]
    assert str(escape(kind)) in opened.text and "<script>alert(1)" not in opened.text
    token = csrf_of(opened.text)
    web = ops.app.state.web  # type: ignore[attr-defined]
    try:  # people act one after the other: the audit trail is ordered by when they acted
        web.clock = lambda: NOW + timedelta(minutes=1)
        assigned = ops.post(
            form_action(opened.text, "assign"), data={"csrf_token": token, "owner": "dc1-lead"}
        )
        assert assigned.status_code == 200, assigned.text[:300]
        web.clock = lambda: NOW + timedelta(minutes=2)
        resolved = ops.post(
            form_action(assigned.text, "resolve"), data={"csrf_token": token, "note": "fixed at the source"}
        )
    finally:
        web.clock = lambda: NOW
    assert resolved.status_code == 200, resolved.text[:300]
    assert 'id="exception-status">resolved' in resolved.text

    detail = viewer.get("/api" + href).json()
    assert detail["exception"]["exception_type"] == kind  # the exact text, not a mangled copy
    trail = [
        (a["action"], a["actor"], a["owner"] if a["action"] == "assign" else a["note"])
        for a in detail["history"]
    ]
    assert trail == [("assign", "otto", "dc1-lead"), ("resolve", "otto", "fixed at the source")]
    still_open = [(e["order_id"], e["exception_type"]) for e in viewer.get("/api/exceptions").json()["items"]]
    assert (order_id, kind) not in still_open


@pytest.mark.parametrize(
    ("ref", "status"),
    [
        ("~%25%25%25", 422),  # not base64url at all: refused by the path pattern
        ("~_-_-", 400),  # base64url, but not UTF-8
        ("~" + "A" * 30000, 422),  # longer than any type
    ],
)
def test_a_broken_type_reference_is_a_clear_error(
    exceptions: Store, viewer: TestClient, ref: str, status: int
) -> None:
    response = viewer.get(f"/api/exceptions/{ref}/SO-7101")
    assert response.status_code == status, response.text[:300]
    assert "Traceback" not in response.text
