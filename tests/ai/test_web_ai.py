"""The AI surfaces of the dashboard and the JSON API, on the real app and store: predicted cause and
override in the exceptions queue, risk and summary on the timeline, the models page (card,
calibration chart, approval and rollback for admins only), flags and reviews (ops), hostile input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from clock import ANCHOR
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ai.policy import load_ai_policy
from ai.predictions import Prediction, PredictionLog
from ai.registry import Registry
from ai.service import AiService
from ai.spikes import SpikeModel
from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store
from tracing import conventions as c
from tracing.records import SpanRecord
from tracing.sinks import write_to_store
from web import create_app
from web.accounts import Accounts, hash_password
from web.settings import ConfiguredUser, Role, WebSettings

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
T0 = ANCHOR - timedelta(days=2)
ORDER = "SO-AI-1"


def _span(n: int, name: str, stage: str, minutes: float, **attrs: object) -> SpanRecord:
    start = T0 + timedelta(minutes=minutes)
    return SpanRecord(
        f"{n:032x}",
        f"{n:016x}",
        "",
        name,
        "Internal",
        "erp-east",
        {c.SERVICE_NAME: "erp-east"},
        {
            c.ORDER_ID: ORDER,
            c.STAGE: stage,
            c.SYSTEM_KIND: "erp",
            c.SYSTEM_INSTANCE: "erp-east",
            c.CHANNEL: "edi",
            c.CUSTOMER_ID: "C-7",
            **attrs,
        },  # type: ignore[dict-item]
        int(start.timestamp() * 1e9),
        int((start + timedelta(minutes=1)).timestamp() * 1e9),
    )


@pytest.fixture(scope="module")
def app(module_store: Store) -> FastAPI:
    store = module_store
    write_to_store(
        store,
        [
            _span(
                1,
                "enter sales order",
                "capture",
                0,
                **{c.ORDER_LINE_SKUS: ["TOO-10003"], c.ORDER_LINE_QUANTITIES: [4], c.ORDER_AMOUNT: 99.0},
            ),
            _span(
                2,
                "credit check",
                "credit",
                5,
                **{
                    c.EXCEPTION_TYPE: "credit_hold",
                    c.EXCEPTION_OUTCOME: "opened",
                    c.EXCEPTION_MESSAGE: "Order total 9,000.00 exceeds available credit <b>now</b>",
                    c.STATUS: "held",
                },
            ),
        ],
    )
    KpiEngine(store, load_policy(None)).recompute()
    log = PredictionLog(store)
    log.write(
        [
            Prediction(
                "exception_cause",
                1,
                ORDER,
                "credit_hold",
                T0,
                0.55,
                "credit",
                {"message": "Order total 9,000.00 exceeds available credit <b>now</b>", "team": "credit"},
                {"route": 0.6},
                "needs_review",
                "confidence 55% < 60%: a person confirms the cause",
                [{"feature": "words__credit", "effect": 1.2}],
            ),
            Prediction(
                "delay",
                1,
                ORDER,
                "capture_to_ship",
                T0 + timedelta(minutes=6),
                0.81,
                "late",
                {"backlog": "12"},
                {"at_risk": 0.5},
                "at_risk",
                "risk 81% >= 50%",
                [{"feature": "credit_tier", "value": "D", "effect": 0.3}],
            ),
            Prediction(
                "duplicates",
                1,
                ORDER,
                "",
                T0,
                0.7,
                "SO-AI-0",
                {"gap_h": "1.5"},
                {"review": 0.5, "flag": 0.85},
                "needs_review",
                "score 0.70 between review 0.5 and flag 0.85",
            ),
        ]
    )
    registry = Registry(store)
    metrics = {
        "auc": 0.84,
        "brier": 0.05,
        "baseline_auc": 0.53,
        "calibration": [
            {"bin": 0.0, "predicted": 0.03, "observed": 0.02, "count": 900},
            {"bin": 0.5, "predicted": 0.6, "observed": 0.55, "count": 40},
        ],
    }
    window = (T0 - timedelta(days=20), T0 - timedelta(days=7), T0 - timedelta(days=7), T0)
    for _ in range(2):
        registry.register(
            "delay",
            SpikeModel(),
            algorithm="test",
            trained_by="pytest",
            window=window,
            train_rows=10,
            metrics=metrics,
            card={"what": "risk <i>of</i> delay"},
            features=["elapsed_frac"],
        )
    settings = WebSettings(
        secret_key="test-secret-key-0123456789-abcdefghijklmnop",
        users=[
            ConfiguredUser(username="vera", password_hash=hash_password(PASSWORD), role=Role.VIEWER),
            ConfiguredUser(username="otto", password_hash=hash_password(PASSWORD), role=Role.OPS),
        ],
    )
    accounts = Accounts(store, settings)
    if accounts.user_role("ada") is None:
        accounts.add_user("ada", PASSWORD, Role.ADMIN)
    policy = load_policy(None)
    return create_app(settings, store, policy=policy, ai=AiService(store, policy, load_ai_policy(None)))


def _login(app: FastAPI, user: str) -> Iterator[TestClient]:
    with TestClient(app) as client:
        page = client.get("/login")
        token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        done = client.post(
            "/login",
            data={"username": user, "password": PASSWORD, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        yield client


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    yield from _login(app, "vera")


@pytest.fixture
def ops(app: FastAPI) -> Iterator[TestClient]:
    yield from _login(app, "otto")


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    yield from _login(app, "ada")


def csrf(client: TestClient, path: str) -> str:
    return _CSRF.search(client.get(path).text).group(1)  # type: ignore[union-attr]


def test_exceptions_queue_shows_the_predicted_cause_needing_review(viewer: TestClient) -> None:
    page = viewer.get("/exceptions?status=")
    assert page.status_code == 200
    row = next(line for line in page.text.splitlines() if ORDER in line and "credit_hold" in line)
    assert "credit" in page.text and "needs review" in page.text
    assert row
    detail = viewer.get(f"/exceptions/credit_hold/{ORDER}")
    assert "Predicted: <strong>credit</strong>, confidence 55.0%" in detail.text
    assert "&lt;b&gt;now&lt;/b&gt;" in detail.text and "<b>now</b>" not in detail.text, (
        "text from spans is escaped"
    )
    assert "Override" not in detail.text, "viewers cannot override"


def test_ops_override_the_cause_with_a_reason_kept_in_the_audit_trail(ops: TestClient) -> None:
    page = f"/exceptions/credit_hold/{ORDER}"
    token = csrf(ops, page)
    pid = re.search(r"/ai/predictions/([0-9a-f-]{36})/review", ops.get(page).text).group(1)  # type: ignore[union-attr]
    empty = ops.post(
        f"/ai/predictions/{pid}/review",
        data={"csrf_token": token, "action": "override", "value": "customer_data", "reason": ""},
    )
    assert empty.status_code == 400
    done = ops.post(
        f"/ai/predictions/{pid}/review",
        data={
            "csrf_token": token,
            "action": "override",
            "value": "customer_data",
            "reason": "new account, no credit profile",
            "back": page,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == page
    text = ops.get(page).text
    assert "Set by otto: <strong>customer_data</strong> (the model said credit" in text
    assert "new account, no credit profile" in text
    queue = ops.get("/api/exceptions?status=")
    assert queue.status_code == 200


def test_timeline_shows_risk_flags_and_the_summary(viewer: TestClient) -> None:
    page = viewer.get(f"/orders/{ORDER}")
    assert page.status_code == 200
    assert 'id="ai-summary"' in page.text and "Credit hold: opened" in page.text
    assert "81.0%" in page.text and "at risk" in page.text
    assert "possible duplicate" not in page.text or "SO-AI-0" in page.text
    insight = viewer.get(f"/api/ai/orders/{ORDER}").json()
    assert {p["model"] for p in insight["predictions"]} == {"exception_cause", "delay", "duplicates"}
    assert insight["summary"]["source"] == "deterministic"
    assert viewer.get("/api/ai/orders/SO-NOPE").status_code == 404


def test_models_page_with_card_and_calibration_chart(viewer: TestClient) -> None:
    page = viewer.get("/ai/models/delay")
    assert page.status_code == 200
    assert "<svg" in page.text and 'aria-label="Calibration on the held-out window"' in page.text
    assert "risk &lt;i&gt;of&lt;/i&gt; delay" in page.text
    assert "Approve" not in page.text, "only admins decide"
    assert viewer.get("/ai").status_code == 200 and viewer.get("/ai/at-risk").status_code == 200
    assert viewer.get("/ai/flags").status_code == 200
    models = viewer.get("/api/ai/models").json()
    assert [m["model"] for m in models] == ["duplicates", "spikes", "delay", "exception_cause", "allocation"]


def test_only_an_admin_approves_and_rolls_back_with_a_reason(
    viewer: TestClient, ops: TestClient, admin: TestClient
) -> None:
    for client in (viewer, ops):
        assert (
            client.post(
                "/api/ai/models/delay/1/approve",
                json={"reason": "x"},
                headers={"X-CSRF-Token": csrf(client, "/ai")},
            ).status_code
            == 403
        )
    token = csrf(admin, "/ai/models/delay")
    headers = {"X-CSRF-Token": token}
    assert (
        admin.post("/api/ai/models/delay/1/approve", json={"reason": ""}, headers=headers).status_code == 422
    )
    assert (
        admin.post("/api/ai/models/delay/99/approve", json={"reason": "x"}, headers=headers).status_code
        == 404
    )
    first = admin.post(
        "/api/ai/models/delay/1/approve", json={"reason": "held-out AUC 0.84"}, headers=headers
    )
    assert (
        first.status_code == 200 and first.json()["status"] == "active" and first.json()["status_by"] == "ada"
    )
    form = admin.post(
        "/ai/models/delay/2/approve",
        data={"csrf_token": token, "reason": "newer week"},
        follow_redirects=False,
    )
    assert form.status_code == 303
    back = admin.post("/api/ai/models/delay/rollback", json={"reason": "v2 drifts"}, headers=headers)
    assert back.status_code == 200 and back.json()["version"] == 1
    view = admin.get("/api/ai/models/delay").json()
    assert view["active"]["version"] == 1
    assert [e["action"] for e in view["events"]][:2] == ["rolled_back_to", "rolled_back"]
    assert "Approve" in admin.get("/ai/models/delay").text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/ai/models/chatgpt", 422),
        ("/api/ai/models/delay/0/approve", 405),
        ("/api/ai/at-risk?limit=0", 422),
        ("/api/ai/at-risk?sla=capture_to_ship%27%3B--", 422),
        ("/api/ai/orders/" + "S" * 2000, 422),
    ],
)
def test_hostile_paths_and_parameters_get_clear_errors(viewer: TestClient, path: str, status: int) -> None:
    assert viewer.get(path).status_code == status


def test_reviews_need_the_ops_role_and_a_sane_body(viewer: TestClient, ops: TestClient) -> None:
    pid = viewer.get("/api/ai/flags").json()[0]["prediction_id"]
    assert (
        viewer.post(
            f"/api/ai/predictions/{pid}/review",
            json={"action": "confirm", "reason": "x"},
            headers={"X-CSRF-Token": csrf(viewer, "/ai")},
        ).status_code
        == 403
    )
    headers = {"X-CSRF-Token": csrf(ops, "/ai")}
    assert (
        ops.post(
            "/api/ai/predictions/not-a-uuid/review",
            json={"action": "confirm", "reason": "x"},
            headers=headers,
        ).status_code
        == 422
    )
    assert (
        ops.post(
            f"/api/ai/predictions/{pid}/review", json={"action": "delete", "reason": "x"}, headers=headers
        ).status_code
        == 422
    )
    assert (
        ops.post(
            f"/api/ai/predictions/{pid}/review",
            json={"action": "confirm", "reason": "x" * 5000},
            headers=headers,
        ).status_code
        == 422
    )
    done = ops.post(
        f"/api/ai/predictions/{pid}/review",
        json={"action": "confirm", "reason": "same PO re-keyed on the portal"},
        headers=headers,
    )
    assert done.status_code == 200 and done.json()["actor"] == "otto"
    assert ops.get("/api/ai/flags").json() == [], "a confirmed flag has been dealt with"
