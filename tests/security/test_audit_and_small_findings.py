"""Findings 5 and 6: the OpenAPI schema follows the login, any exception type is routable, 300 alert
groups from one request do not become 300 e-mails, and an audit log records who did what."""

from __future__ import annotations

import re

import pytest
from clock import ANCHOR
from fastapi import FastAPI
from fastapi.testclient import TestClient
from support.receivers import smtp_server
from support.security import csrf_of, log_in, security_app
from test_outbound_targets import alert, email_rules

from alerts.dispatch import Dispatcher
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, guarded_client
from storage import Store
from web.formatting import EXCEPTION_REF_PATTERN, exception_ref, exception_type_of

NOW = ANCHOR


def test_openapi_needs_a_login_unless_made_public(app: FastAPI, module_store: Store) -> None:
    with TestClient(app) as anon:
        assert anon.get("/api/openapi.json").status_code == 401
        assert log_in(anon, "vera") == 303
        assert "/api/me" in anon.get("/api/openapi.json").json()["paths"]
    with TestClient(security_app(module_store, public_openapi=True)) as anon:
        assert anon.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "kind", ["stock out/west", "x' OR 1=1 --", "<script>alert(1)</script>", "défaut ✓", "a" * 500, "..", "~x"]
)
def test_any_exception_type_has_a_url_that_names_it(kind: str) -> None:
    ref = exception_ref(kind)
    assert re.match(EXCEPTION_REF_PATTERN, ref) and "/" not in ref
    assert exception_type_of(ref) == kind


def test_300_alert_groups_from_one_request_send_at_most_the_cap_plus_a_summary(store: Store) -> None:
    with smtp_server() as (mailbox, port):
        settings = AlertSettings(allowed_targets=[f"127.0.0.1:{port}"], retry_initial_backoff_s=0)
        dispatcher = Dispatcher(
            store, parse_rules(email_rules(port)), settings, guarded_client(TargetPolicy(), 5)
        )
        sent = dispatcher.flush([alert(system=f"erp-{i:03d}") for i in range(300)], NOW)
        dispatcher.close()
    assert len(mailbox.messages) == settings.max_notifications_per_rule + 1
    subjects = [str(message["Subject"]) for _, message in mailbox.messages]
    assert sum("summary of 290 more alert groups" in subject for subject in subjects) == 1
    assert all(s.delivery.ok for s in sent)


def test_audit_log_records_who_did_what(module_store: Store) -> None:
    app = security_app(module_store)
    with TestClient(app) as attacker:
        assert log_in(attacker, "ada", "not-the-password") == 401
    with TestClient(app) as admin:
        assert log_in(admin, "ada") == 303
        token = csrf_of(admin.get("/admin").text)
        made = admin.post(
            "/api/tokens", json={"name": "audit-ci", "role": "viewer"}, headers={"X-CSRF-Token": token}
        )
        token_id = made.json()["info"]["token_id"]
        admin.delete(f"/api/tokens/{token_id}", headers={"X-CSRF-Token": token})
        silence = {"matchers": ['warehouse="wh-audit"'], "hours": 1, "comment": "audit test"}
        admin.post("/api/silences", json=silence, headers={"X-CSRF-Token": token})
        admin.delete("/api/users/otto/sessions", headers={"X-CSRF-Token": token})
        events = admin.get("/api/audit", params={"actor": "ada"}).json()["events"]
        actions = {(e["action"], e["outcome"]) for e in events}
        assert {
            ("login", "failed"),
            ("login", "ok"),
            ("token.create", "ok"),
            ("token.revoke", "ok"),
        } <= actions
        assert {("silence.create", "ok"), ("user.signout", "ok")} <= actions
        tokens = admin.get("/api/audit", params={"actor": "ada", "action": "token"}).json()
        assert {e["action"] for e in tokens["events"]} == {"token.create", "token.revoke"}
        page = admin.get("/admin/audit", params={"actor": "ada", "action": "silence"})
        assert page.status_code == 200 and "silence.create" in page.text and "wh-audit" in page.text
    with TestClient(app) as viewer:
        log_in(viewer, "vera")
        assert viewer.get("/api/audit").status_code == 403 and viewer.get("/admin/audit").status_code == 403
