"""Every GET route of the dashboard and its API, with hostile values in every path and query parameter:
an answer the user can read (a page, JSON, or a clear 4xx), never a server error.

The routes are read from the app itself, so a route added later is covered without a change here.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from orderspans import quick_order

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store

HOSTILE = [
    "0",  # the Unix epoch
    "1972-01-01",  # before the store's first DateTime
    "2300-01-01T00:00:00Z",  # after its last
    "99999999999999999999",  # beyond 64 bits
    "-1",
    "\x00",
    "a" * 1500,
    "%",
    "2026-13-45",
]


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI keeps it unflattened)
            yield from _routes(route.original_router.routes, prefix + (route.include_context.prefix or ""))
        elif hasattr(route, "dependant") and "GET" in getattr(route, "methods", ()):
            yield prefix + route.path, route


def _query_names(dependant: Any) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


@pytest.fixture(scope="module")
def orders(module_store: Store) -> Store:
    for i in range(12):
        quick_order(module_store, f"SO-{i}", open_exception="credit_hold" if i % 3 == 0 else "")
    assert all(r.status == "ok" for r in KpiEngine(module_store, load_policy()).run_all())
    return module_store


def test_no_get_route_answers_a_hostile_value_with_a_server_error(
    orders: Store, app: FastAPI, admin: TestClient
) -> None:
    routes = dict(_routes(app.routes))
    assert {"/api/orders/{order_id:path}/timeline", "/kpis", "/api/process/map", "/exceptions"} <= set(routes)
    failures = []
    asked = 0
    for path, route in routes.items():
        names = sorted(set(_query_names(route.dependant)))
        for value in HOSTILE:
            quoted = urllib.parse.quote(value, safe="") or "x"  # no backslash: safe in re.sub
            url = re.sub(r"\{[^}]+\}", quoted, path)
            try:
                answer = admin.get(url, params=dict.fromkeys(names, value))
            except httpx.InvalidURL:  # the client refuses to send it (a NUL, a query too long)
                continue
            asked += 1
            if answer.status_code >= 500 or "Traceback" in answer.text:
                failures.append(f"{path} {value[:20]!r}: {answer.status_code} {answer.text[:200]}")
    assert asked > 300
    assert not failures, "\n".join(failures)
