"""The JSON API's OpenAPI schema is complete: every /api/ operation has a typed success response."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_every_api_operation_has_a_response_schema(viewer: TestClient) -> None:
    schema = viewer.get("/api/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert {path for path, _, _ in operations} >= {
        "/api/search",
        "/api/orders/{order_id}/timeline",
        "/api/me",
        "/api/tokens",
        "/healthz",
    }
    for path, method, op in operations:
        assert path.startswith("/api/") or path == "/healthz", path
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, f"{method} {path} has no success response"
        # JSON, or a documented other media type (the process exports stream XML and SQLite files)
        media = op["responses"][success[0]].get("content", {})
        content = media.get("application/json") or next(iter(media.values()), {})
        assert content.get("schema"), f"{method} {path} has no response schema"
        assert op.get("summary") and op.get("tags"), f"{method} {path} lacks a summary or tag"
    # HTML pages are not part of the API schema
    assert "/login" not in schema["paths"] and "/orders/{order_id}" not in schema["paths"]


def test_timeline_schema_is_the_tracing_model(viewer: TestClient) -> None:
    components = viewer.get("/api/openapi.json").json()["components"]["schemas"]
    timeline = components["Timeline"]["properties"]
    for field in ("hops", "gaps", "critical_path", "state", "spans", "exception_cases", "manual_touches"):
        assert field in timeline
    assert "OrderMatch" in components


def test_every_operation_has_a_meaningful_summary(viewer: TestClient) -> None:
    """Summaries read like the docstring ("Orders a key leads to"), never like "Api Search"."""
    schema = viewer.get("/api/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            summary = op.get("summary", "")
            generated = " ".join(
                w.capitalize() for w in op["operationId"].split("_" + path.split("/")[1])[0].split("_")
            )
            assert summary and summary != generated, f"{method} {path}: {summary!r}"
            assert not summary.startswith("Api "), f"{method} {path}: {summary!r}"
            assert len(summary) <= 120 and "``" not in summary
    assert schema["paths"]["/api/search"]["get"]["summary"].startswith("Orders a key leads to")


def test_api_docs_are_served_from_the_package_behind_the_login(anon: TestClient, viewer: TestClient) -> None:
    refused = anon.get("/docs", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    page = viewer.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe" not in csp
    scripts = [s.split('"')[0] for s in page.text.split('<script src="')[1:]]
    assert scripts == ["/static/swaggerui/swagger-ui-bundle.js", "/static/docs.js"]
    assert "<script>" not in page.text and "cdn" not in page.text.lower()
    assert 'data-openapi-url="/api/openapi.json"' in page.text
    for asset in [*scripts, "/static/swaggerui/swagger-ui.css", "/static/swaggerui/LICENSE"]:
        served = viewer.get(asset)
        assert served.status_code == 200 and len(served.content) > 500, asset
    assert "Apache License" in viewer.get("/static/swaggerui/LICENSE").text
    # the other pages keep the strict policy (the package's own script files only, no fetches to
    # anywhere: the docs' connect-src stays on /docs), and link to the docs
    orders = viewer.get("/")
    other = orders.headers["content-security-policy"]
    assert "script-src 'self';" in other and "connect-src" not in other and "unsafe" not in other
    assert "<script>" not in orders.text
    assert 'href="/docs"' in orders.text
    assert viewer.get("/redoc", follow_redirects=False).headers["location"] == "/docs"
