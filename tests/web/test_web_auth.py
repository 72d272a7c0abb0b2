"""Login, roles, sessions, CSRF, API tokens and security headers."""

from __future__ import annotations

from conftest import PASSWORD, csrf_of, login, make_app
from fastapi import FastAPI
from fastapi.testclient import TestClient

from storage import Store


def test_pages_redirect_to_login_and_api_answers_401(anon: TestClient) -> None:
    page = anon.get("/orders/SO-1?x=1", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Forders%2FSO-1%3Fx%3D1"
    api = anon.get("/api/search", params={"q": "SO-1"})
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"


def test_healthz_needs_no_login(anon: TestClient) -> None:
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_login_lands_on_next_page_and_logout_ends_session(anon: TestClient) -> None:
    form = anon.get("/login?next=/admin")
    assert 'value="/admin"' in form.text
    response = anon.post(
        "/login",
        data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": "/admin"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert anon.get("/api/me").json() == {"name": "ada", "role": "admin", "via": "session"}
    page = anon.get("/admin")
    anon.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert anon.get("/api/me").status_code == 401


def test_open_redirect_after_login_is_refused(anon: TestClient) -> None:
    form = anon.get("/login")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = anon.post(
            "/login",
            data={"username": "vera", "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"
        form = anon.get("/admin")  # logged in as viewer: 403 page still carries a token
        assert form.status_code == 403


def test_wrong_password_and_unknown_user_are_rejected_alike(anon: TestClient) -> None:
    form = anon.get("/login")
    token = csrf_of(form.text)
    wrong = anon.post("/login", data={"username": "vera", "password": "nope-nope", "csrf_token": token})
    unknown = anon.post("/login", data={"username": "mallory", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password." in wrong.text and "Wrong user name or password." in unknown.text
    assert anon.get("/api/me").status_code == 401


def test_repeated_failed_logins_are_throttled(module_store: Store, password_hash: str) -> None:
    anon = TestClient(make_app(module_store, password_hash))  # its own throttle
    token = csrf_of(anon.get("/login").text)
    codes = [
        anon.post(
            "/login", data={"username": "otto", "password": f"bad-{i}-xx", "csrf_token": token}
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    # even the right password is refused while throttled
    right = anon.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": token})
    assert right.status_code == 429


def test_login_without_csrf_token_is_refused(anon: TestClient) -> None:
    anon.get("/login")
    response = anon.post("/login", data={"username": "vera", "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert anon.get("/api/me").status_code == 401


def test_forged_cookie_is_not_a_session(app: FastAPI) -> None:
    with TestClient(app) as client:
        client.cookies.set("tower_session", "eyJ1c2VyIjogImFkYSJ9.forged.signature")
        assert client.get("/api/me").status_code == 401


def test_viewer_is_refused_admin_pages_and_token_api(viewer: TestClient) -> None:
    assert viewer.get("/admin").status_code == 403
    assert viewer.get("/api/tokens").status_code == 403
    response = viewer.post("/api/tokens", json={"name": "x", "role": "admin"}, headers={"X-CSRF-Token": "x"})
    assert response.status_code == 403


def test_session_post_without_csrf_header_is_refused(admin: TestClient) -> None:
    response = admin.post("/api/tokens", json={"name": "ci", "role": "viewer"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_api_token_lifecycle(admin: TestClient, app: FastAPI) -> None:
    page = admin.get("/admin")
    created = admin.post(
        "/admin/tokens", data={"name": "grafana <b>", "role": "viewer", "csrf_token": csrf_of(page.text)}
    )
    assert created.status_code == 200
    assert "grafana &lt;b&gt;" in created.text
    token = created.text.split('id="new-token">')[1].split("<")[0]
    assert token.startswith("oct_")
    with TestClient(app) as api:
        headers = {"Authorization": f"Bearer {token}"}
        assert api.get("/api/me", headers=headers).json() == {
            "name": "token:grafana <b>",
            "role": "viewer",
            "via": "token",
        }
        # a token may not act above its role
        assert api.get("/api/tokens", headers=headers).status_code == 403
        listed = admin.get("/api/tokens").json()
        assert [t["name"] for t in listed] == ["grafana <b>"]
        assert token not in admin.get("/api/tokens").text  # the secret is never shown again
        token_id = listed[0]["token_id"]
        revoked = admin.delete(f"/api/tokens/{token_id}", headers={"X-CSRF-Token": csrf_of(page.text)})
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        app.state.web.accounts._forget()
        assert api.get("/api/me", headers=headers).status_code == 401
        assert api.get("/api/me", headers={"Authorization": "Bearer oct_not-a-real-token"}).status_code == 401
        assert api.get("/api/me", headers={"Authorization": "Basic YWRhOng="}).status_code == 401


def test_admin_token_api_creates_usable_token(admin: TestClient, app: FastAPI) -> None:
    token_csrf = csrf_of(admin.get("/admin").text)
    made = admin.post(
        "/api/tokens", json={"name": "ops bot", "role": "ops"}, headers={"X-CSRF-Token": token_csrf}
    )
    assert made.status_code == 201
    secret = made.json()["token"]
    with TestClient(app) as api:
        me = api.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.json()["role"] == "ops"


def test_security_headers_on_pages_api_and_errors(admin: TestClient, anon: TestClient) -> None:
    for response in (admin.get("/admin"), admin.get("/api/me"), anon.get("/login"), admin.get("/nowhere")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "script-src 'self';" in csp  # the package's own static scripts only
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


def test_unknown_page_is_a_404_page(admin: TestClient) -> None:
    response = admin.get("/nowhere/<script>")
    assert response.status_code == 404
    assert "404" in response.text and "<script>" not in response.text


def test_disabled_user_loses_session(app: FastAPI) -> None:
    accounts = app.state.web.accounts
    accounts.add_user("temp", PASSWORD, accounts.user_role("ada"))
    with TestClient(app) as client:
        login(client, "temp")
        assert client.get("/api/me").status_code == 200
        accounts.disable_user("temp")
        assert client.get("/api/me").status_code == 401


def test_oversized_bodies_are_refused_before_parsing(admin: TestClient) -> None:
    token = csrf_of(admin.get("/admin").text)
    big = admin.post(
        "/api/tokens",
        content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
        headers={"X-CSRF-Token": token, "content-type": "application/json"},
    )
    assert big.status_code == 413
    form = admin.post("/admin/tokens", data={"csrf_token": token, "name": "y" * 1_100_000})
    assert form.status_code == 413
    assert admin.get("/api/tokens").json() == [] or all(
        len(t["name"]) <= 100 for t in admin.get("/api/tokens").json()
    )


def test_admin_sees_settings_with_secrets_masked(admin: TestClient, viewer: TestClient) -> None:
    view = admin.get("/api/settings").json()
    assert view["web"]["secret_key"] == "**********"
    assert all(u["password_hash"] == "**********" for u in view["web"]["users"])
    assert "capture_to_ship" in {s["name"] for s in view["slas"]}
    page = admin.get("/admin").text
    assert "test-secret-key" not in page and "$argon2" not in page
    assert viewer.get("/api/settings").status_code == 403


def test_a_token_revoked_on_the_admin_page_gets_401(admin: TestClient, app: FastAPI) -> None:
    page = admin.get("/admin")
    created = admin.post(
        "/admin/tokens", data={"name": "nightly export", "role": "ops", "csrf_token": csrf_of(page.text)}
    )
    token = created.text.split('id="new-token">')[1].split("<")[0]
    [info] = [t for t in admin.get("/api/tokens").json() if t["name"] == "nightly export"]
    with TestClient(app) as api:
        headers = {"Authorization": f"Bearer {token}"}
        assert api.get("/api/me", headers=headers).json()["name"] == "token:nightly export"
        form = admin.get("/admin")
        assert f'action="/admin/tokens/{info["token_id"]}/revoke"' in form.text  # the page's revoke button
        unknown = admin.post("/admin/tokens/0123456789ab/revoke", data={"csrf_token": csrf_of(form.text)})
        assert unknown.status_code == 404
        no_csrf = admin.post(f"/admin/tokens/{info['token_id']}/revoke", follow_redirects=False)
        assert no_csrf.status_code == 403
        assert api.get("/api/me", headers=headers).status_code == 200  # a refused revoke changes nothing
        revoked = admin.post(
            f"/admin/tokens/{info['token_id']}/revoke",
            data={"csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert revoked.status_code == 303 and revoked.headers["location"] == "/admin"
        assert api.get("/api/me", headers=headers).status_code == 401
        assert api.get("/api/orders", headers=headers).status_code == 401
    [after] = [t for t in admin.get("/api/tokens").json() if t["name"] == "nightly export"]
    assert after["revoked"] is True
