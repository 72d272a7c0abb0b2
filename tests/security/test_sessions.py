"""Finding 1: sessions the server can revoke. After logout, a password change, disabling the user or
an admin's "sign out everywhere", the old cookie gets 401 on GET /api/me and cannot create a silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from support.security import PASSWORD, csrf_of, log_in, security_app

from alerts import state as alert_state
from storage import Store
from web.security import SESSION_COOKIE

SILENCE = {"matchers": ['warehouse="wh-stolen"'], "hours": 1, "comment": "replayed cookie"}


def stolen(app: FastAPI, user: str) -> tuple[TestClient, str, str]:
    """A logged-in browser, its cookie value and CSRF token (what an attacker would copy)."""
    client = TestClient(app)
    assert log_in(client, user) == 303
    token = csrf_of(client.get("/alerts").text)
    return client, client.cookies[SESSION_COOKIE], token


def replay(app: FastAPI, cookie: str, token: str, comment: str = "replayed cookie") -> tuple[int, int]:
    with TestClient(app) as attacker:
        attacker.cookies.set(SESSION_COOKIE, cookie)
        me = attacker.get("/api/me").status_code
        body = {**SILENCE, "comment": comment}
        silence = attacker.post("/api/silences", json=body, headers={"X-CSRF-Token": token}).status_code
    return me, silence


def test_the_cookie_is_an_opaque_id_and_works_before_logout(app: FastAPI) -> None:
    _, cookie, token = stolen(app, "otto")
    assert "otto" not in cookie and "." not in cookie and len(cookie) >= 40
    assert token not in cookie
    assert replay(app, cookie, token)[0] == 200


def test_logout_ends_the_session_at_once(app: FastAPI, module_store: Store) -> None:
    client, cookie, token = stolen(app, "otto")
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    me, silence = replay(app, cookie, token, comment="after logout")
    assert me == 401 and silence == 401
    assert not [s for s in alert_state.list_silences(module_store) if s.comment == "after logout"]


def test_password_change_ends_every_other_session(app: FastAPI) -> None:
    browser, cookie, token = stolen(app, "pat")
    _, other_cookie, other_token = stolen(app, "pat")
    new = "a brand new passphrase 42"
    changed = browser.post(
        "/account/password", data={"csrf_token": token, "current": PASSWORD, "new": new, "confirm": new}
    )
    assert changed.status_code == 200 and "Password changed" in changed.text
    assert replay(app, other_cookie, other_token) == (401, 401)
    assert replay(app, cookie, token) == (401, 401)
    assert browser.get("/api/me").json()["name"] == "pat"  # this browser got a fresh session
    app.state.web.accounts.add_user("pat", PASSWORD, app.state.web.accounts.user_role("pat"), replace=True)


def test_weak_new_password_is_refused(app: FastAPI) -> None:
    browser, _, token = stolen(app, "otto")
    for weak in ("password        ", "Summer2024!!", "otto-is-my-name", "short-pw"):
        response = browser.post(
            "/account/password", data={"csrf_token": token, "current": PASSWORD, "new": weak, "confirm": weak}
        )
        assert response.status_code == 400, weak
    assert browser.get("/api/me").status_code == 200


def test_disabling_a_user_ends_their_sessions_at_once(module_store: Store) -> None:
    app = security_app(module_store)
    accounts = app.state.web.accounts
    accounts.add_user("temp-user", PASSWORD, accounts.user_role("otto"), replace=True)
    _, cookie, token = stolen(app, "temp-user")
    accounts.disable_user("temp-user")
    assert replay(app, cookie, token) == (401, 401)


def test_admin_signs_a_user_out_everywhere_on_the_admin_page_and_api(app: FastAPI) -> None:
    _, cookie, token = stolen(app, "otto")
    admin, _, admin_token = stolen(app, "ada")
    page = admin.post("/admin/users/otto/signout", data={"csrf_token": admin_token}, follow_redirects=False)
    assert page.status_code == 303
    assert replay(app, cookie, token) == (401, 401)
    _, cookie2, token2 = stolen(app, "otto")
    api = admin.delete("/api/users/otto/sessions", headers={"X-CSRF-Token": admin_token})
    assert api.status_code == 200 and api.json()["sessions_ended"] >= 1
    assert replay(app, cookie2, token2) == (401, 401)
    assert admin.delete("/api/users/otto/sessions").status_code == 403  # CSRF still applies


def test_idle_and_absolute_timeouts(module_store: Store) -> None:
    app = security_app(module_store, session_idle_timeout_s=1800, session_max_age_s=4 * 3600)
    sessions = app.state.web.sessions
    # the sessions' clock is injected; it starts at the wall clock only because the store itself drops
    # session rows a day after their absolute expiry (the table's TTL), so rows must not start in the past
    now = [datetime.now(UTC)]
    sessions.clock = lambda: now[0]
    _, cookie, token = stolen(app, "otto")
    now[0] += timedelta(minutes=29)
    assert replay(app, cookie, token)[0] == 200  # activity refreshes the idle timer
    now[0] += timedelta(minutes=31)
    assert replay(app, cookie, token)[0] == 401  # idle for more than 30 minutes
    _, cookie, token = stolen(app, "otto")
    for _ in range(16):  # active every 15 minutes ...
        now[0] += timedelta(minutes=15)
        replay(app, cookie, token)
    assert replay(app, cookie, token)[0] == 401  # ... but 4 hours after login it ends anyway


def test_forged_and_oversized_cookies_are_no_session(app: FastAPI) -> None:
    for value in ("eyJ1c2VyIjogImFkYSJ9.forged.signature", "x" * 5000, "", "' OR 1=1 --"):
        with TestClient(app) as client:
            client.cookies.set(SESSION_COOKIE, value)
            assert client.get("/api/me").status_code == 401
