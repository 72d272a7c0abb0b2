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
        content = op["responses"][success[0]].get("content", {}).get("application/json", {})
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
