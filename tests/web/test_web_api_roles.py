"""Every JSON API operation, from the OpenAPI schema: anonymous callers get 401, viewers get 403 on
every state-changing operation, and every read answers a viewer token with its documented model."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web.settings import Role

SAMPLE_PATH_VALUES = {
    "order_id": "SO-1",
    "exception_type": "stockout",
    "action": "resolve",
    "fingerprint": "abc123",
    "silence_id": "abc123",
    "token_id": "0123456789ab",
    "kpi": "orders",
    "dimension": "channel",
    "rule": "WarehouseStalled",
    "username": "vera",
    "model": "delay",
    "version": "1",
    "prediction_id": "00000000-0000-0000-0000-000000000000",
}
PUBLIC = {"/healthz"}
NAMED_THINGS = (
    "/api/orders/SO-1/",
    "/api/ai/orders/SO-1",
    "/api/alerts/abc123",
    "/api/exceptions/stockout/",
    "/api/alerts/rules/",
)


def operations(client: TestClient, app: FastAPI) -> list[tuple[str, str]]:
    schema = app.openapi()  # /api/openapi.json itself needs a login (tests/security)
    found = []
    for path, item in schema["paths"].items():
        for method in item:
            concrete = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], path)
            found.append((method.upper(), concrete))
    return found


@pytest.fixture(scope="module")
def viewer_token(app: FastAPI) -> str:
    return str(app.state.web.accounts.create_token("roles-test", Role.VIEWER, "test").token)


def test_anonymous_callers_get_401_everywhere(anon: TestClient, app: FastAPI) -> None:
    ops = operations(anon, app)
    assert len(ops) >= 23
    for method, path in ops:
        if path in PUBLIC:
            continue
        response = anon.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
        assert response.status_code == 401, (method, path, response.status_code)


def test_viewers_cannot_change_anything(anon: TestClient, app: FastAPI, viewer_token: str) -> None:
    headers = {"Authorization": f"Bearer {viewer_token}"}
    changing = [(m, p) for m, p in operations(anon, app) if m != "GET"]
    assert len(changing) >= 6
    for method, path in changing:
        response = anon.request(
            method, path, headers=headers, json={"name": "x", "matchers": ['a="b"'], "comment": "x"}
        )
        assert response.status_code == 403, (method, path, response.status_code, response.text)


def documented_media(app: FastAPI, path: str) -> set[str]:
    """The media types the schema documents for a read's 200 answer (application/json unless it says
    otherwise, as the process exports do: XES is application/xml)."""
    for template, item in app.openapi()["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], template)
        if "get" in item and concrete == path:
            return set(item["get"]["responses"].get("200", {}).get("content", {})) or {"application/json"}
    raise AssertionError(f"{path} is not in the schema")


def test_every_read_answers_a_viewer(anon: TestClient, app: FastAPI, viewer_token: str) -> None:
    headers = {"Authorization": f"Bearer {viewer_token}"}
    admin_only = {"/api/tokens", "/api/users", "/api/settings", "/api/audit"}
    reads = [p for m, p in operations(anon, app) if m == "GET"]
    for path in reads:
        response = anon.get(path, headers=headers, params={"q": "SO-1"} if path == "/api/search" else None)
        # the sample ids name nothing in this empty store: reads of one thing are 404, lists are 200
        missing = path.startswith(NAMED_THINGS)
        expected = 403 if path in admin_only else 404 if missing else 200
        assert response.status_code == expected, (path, response.status_code, response.text[:300])
        # errors are JSON; an answer is in a media type its operation documents
        media = response.headers["content-type"].split(";")[0]
        assert media in (documented_media(app, path) if expected == 200 else {"application/json"}), (
            path,
            media,
        )
