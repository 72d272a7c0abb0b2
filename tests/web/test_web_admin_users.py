"""The admin page for users on the real store: add with a role, disable and enable, reset a password
under the password rule, sign out everywhere; every action audited, refusals keep the form, and only
admins get in. Forms follow POST-redirect-GET: a refresh never submits twice."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import csrf_of, login
from fastapi import FastAPI
from fastapi.testclient import TestClient

from storage import Store, audit

NEW_PASSWORD = "plum orchard at dusk 42"


def _csrf(client: TestClient) -> str:
    return csrf_of(client.get("/admin").text)


def _events(store: Store, action: str, target: str) -> list[audit.AuditEvent]:
    return [e for e in audit.events(store, action=action).events if e.target == target]


@pytest.fixture
def fresh(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def test_admin_adds_a_user_who_logs_in_with_that_role(
    admin: TestClient, fresh: TestClient, module_store: Store
) -> None:
    added = admin.post(
        "/admin/users",
        data={"csrf_token": _csrf(admin), "username": "nina", "role": "ops", "password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/admin#users"
    page = admin.get("/admin")
    assert "User nina added with the ops role." in page.text
    assert "User nina added" not in admin.get("/admin").text  # the notice is shown once
    row = re.search(r'<tr id="user-nina">.*?</tr>', page.text, re.S)
    assert row and "<td>ops</td>" in row.group(0) and "active" in row.group(0)
    login(fresh, "nina", NEW_PASSWORD)
    assert fresh.get("/api/me").json() == {"name": "nina", "role": "ops", "via": "session"}
    [event] = _events(module_store, "user.add", "nina")
    assert (event.actor, event.outcome, event.details) == ("ada", "ok", {"role": "ops"})
    assert NEW_PASSWORD not in str(event.details)


@pytest.mark.parametrize(
    ("username", "password", "field", "why"),
    [
        ("olga", "password1234", "password", "too common"),
        ("olga", "short", "password", "at least 12 characters"),
        ("olga", "olga-olga-olga-1", "password", "must not contain the user name"),
        ("<script>alert(1)</script>", NEW_PASSWORD, "username", "a user name is 1-64"),
        ("x" * 65, NEW_PASSWORD, "username", "a user name is 1-64"),
        ("vera", NEW_PASSWORD, "username", "defined in the configuration"),
        ("olga", "p" * 1025, "password", "1-1024 characters"),
    ],
)
def test_a_refused_user_keeps_the_form_with_the_reason_beside_the_field(
    admin: TestClient, username: str, password: str, field: str, why: str
) -> None:
    refused = admin.post(
        "/admin/users",
        data={"csrf_token": _csrf(admin), "username": username, "role": "admin", "password": password},
    )
    assert refused.status_code == 400
    form = refused.text.split('id="add-user"')[1].split("</form>")[0]
    error = re.search(rf'id="{field}-error" role="alert">([^<]*)<', form)
    assert error and why in error.group(1).replace("&#39;", "'"), form
    assert '<option value="admin" selected>' in form  # the chosen role is kept
    assert password not in refused.text  # a password is never sent back
    assert "<script>alert(1)" not in refused.text
    if len(username) <= 64 and username.isalnum():
        assert f'value="{username}"' in form
    assert username not in [u["username"] for u in admin.get("/api/users").json() if u["source"] == "store"]


def test_disable_ends_the_users_sessions_and_enable_lets_them_back(
    admin: TestClient, fresh: TestClient, module_store: Store
) -> None:
    admin.post(
        "/admin/users",
        data={"csrf_token": _csrf(admin), "username": "dora", "role": "viewer", "password": NEW_PASSWORD},
    )
    login(fresh, "dora", NEW_PASSWORD)
    assert fresh.get("/api/me").status_code == 200
    disabled = admin.post(
        "/admin/users/dora/disable", data={"csrf_token": _csrf(admin)}, follow_redirects=False
    )
    assert disabled.status_code == 303
    assert "dora is disabled; 1 session(s) ended." in admin.get("/admin").text
    assert fresh.get("/api/me").status_code == 401  # at once, not at the session's expiry
    page = fresh.get("/login")
    refused = fresh.post(
        "/login",
        data={"username": "dora", "password": NEW_PASSWORD, "csrf_token": csrf_of(page.text), "next": "/"},
    )
    assert "Wrong user name or password." in refused.text
    admin.post("/admin/users/dora/enable", data={"csrf_token": _csrf(admin)})
    login(fresh, "dora", NEW_PASSWORD)
    assert [e.outcome for e in _events(module_store, "user.disable", "dora")] == ["ok"]
    assert [e.details["sessions_ended"] for e in _events(module_store, "user.disable", "dora")] == [1]
    assert len(_events(module_store, "user.enable", "dora")) == 1


def test_reset_password_follows_the_rule_and_signs_the_user_out(
    admin: TestClient, fresh: TestClient, module_store: Store
) -> None:
    admin.post(
        "/admin/users",
        data={"csrf_token": _csrf(admin), "username": "remy", "role": "viewer", "password": NEW_PASSWORD},
    )
    login(fresh, "remy", NEW_PASSWORD)
    weak = admin.post(
        "/admin/users/remy/password", data={"csrf_token": _csrf(admin), "password": "qwertyuiop12"}
    )
    assert weak.status_code == 400 and "remy: the password is too common" in weak.text
    assert fresh.get("/api/me").status_code == 200  # nothing changed
    done = admin.post(
        "/admin/users/remy/password",
        data={"csrf_token": _csrf(admin), "password": "a brand new passphrase"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert fresh.get("/api/me").status_code == 401
    with pytest.raises(AssertionError):
        login(fresh, "remy", NEW_PASSWORD)
    login(fresh, "remy", "a brand new passphrase")
    outcomes = [e.outcome for e in _events(module_store, "user.password", "remy")]
    assert sorted(outcomes) == ["failed", "ok"]
    assert all("brand new" not in str(e.details) for e in _events(module_store, "user.password", "remy"))


def test_sign_out_everywhere_and_self_or_config_users_are_protected(
    admin: TestClient, viewer: TestClient
) -> None:
    ended = admin.post("/admin/users/vera/signout", data={"csrf_token": _csrf(admin)}, follow_redirects=False)
    assert ended.status_code == 303
    assert "vera signed out everywhere" in admin.get("/admin").text
    assert viewer.get("/api/me").status_code == 401
    self_disable = admin.post("/admin/users/ada/disable", data={"csrf_token": _csrf(admin)})
    assert self_disable.status_code == 400 and "you cannot disable yourself" in self_disable.text
    config_user = admin.post("/admin/users/otto/disable", data={"csrf_token": _csrf(admin)})
    assert config_user.status_code == 400 and "defined in the configuration" in config_user.text
    unknown = admin.post("/admin/users/nobody/enable", data={"csrf_token": _csrf(admin)})
    assert unknown.status_code == 400 and "no stored user nobody" in unknown.text
    assert admin.post("/admin/users/ada/explode", data={"csrf_token": _csrf(admin)}).status_code in (
        400,
        404,
        405,
    )


def test_non_admins_get_403_on_every_user_action(ops: TestClient, viewer: TestClient) -> None:
    for client in (ops, viewer):
        token = csrf_of(client.get("/alerts").text)
        assert client.get("/admin").status_code == 403
        for path in (
            "/admin/users",
            "/admin/users/ada/disable",
            "/admin/users/ada/password",
            "/admin/users/ada/signout",
        ):
            response = client.post(
                path, data={"csrf_token": token, "username": "x1", "password": NEW_PASSWORD}
            )
            assert response.status_code == 403, path
        api = client.post(
            "/api/users",
            json={"username": "x2", "role": "admin", "password": NEW_PASSWORD},
            headers={"X-CSRF-Token": token},
        )
        assert api.status_code == 403


def test_user_api_for_admins(admin: TestClient, module_store: Store) -> None:
    token = _csrf(admin)
    made = admin.post(
        "/api/users",
        json={"username": "api-user", "role": "viewer", "password": NEW_PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert made.status_code == 201 and made.json() == {
        "username": "api-user",
        "role": "viewer",
        "source": "store",
        "disabled": False,
    }
    weak = admin.post(
        "/api/users",
        json={"username": "api-weak", "role": "viewer", "password": "password123!"},
        headers={"X-CSRF-Token": token},
    )
    assert weak.status_code == 400 and "too common" in weak.json()["detail"]
    off = admin.post("/api/users/api-user/disable", headers={"X-CSRF-Token": token})
    assert off.status_code == 200 and off.json()["user"]["disabled"] is True
    assert admin.post("/api/users/ghost/disable", headers={"X-CSRF-Token": token}).status_code == 404


def test_creating_a_token_redirects_and_shows_the_secret_once(admin: TestClient) -> None:
    created = admin.post(
        "/admin/tokens",
        data={"name": "prg check", "role": "viewer", "csrf_token": _csrf(admin)},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/admin#tokens"
    assert "oct_" not in created.headers["location"] and "oct_" not in created.text
    first = admin.get("/admin")
    secret = first.text.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("oct_") and first.headers["cache-control"] == "no-store"
    again = admin.get("/admin")  # a refresh: no second token, no secret
    assert secret not in again.text and 'id="new-token"' not in again.text
    assert [t["name"] for t in admin.get("/api/tokens").json()].count("prg check") == 1


def test_a_token_secret_is_shown_only_to_the_session_that_made_it(admin: TestClient, app: FastAPI) -> None:
    admin.post(
        "/admin/tokens",
        data={"name": "mine only", "role": "viewer", "csrf_token": _csrf(admin)},
        follow_redirects=False,
    )
    with TestClient(app) as other:
        login(other, "ada")
        assert 'id="new-token"' not in other.get("/admin").text
    assert 'id="new-token"' in admin.get("/admin").text


def test_changing_ones_password_redirects(fresh: TestClient, admin: TestClient) -> None:
    admin.post(
        "/admin/users",
        data={"csrf_token": _csrf(admin), "username": "paul", "role": "viewer", "password": NEW_PASSWORD},
    )
    login(fresh, "paul", NEW_PASSWORD)
    page = fresh.get("/account")
    changed = fresh.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(page.text),
            "current": NEW_PASSWORD,
            "new": "another fine phrase",
            "confirm": "another fine phrase",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/account"
    assert "Password changed." in fresh.get("/account").text
    assert "Password changed." not in fresh.get("/account").text
    assert fresh.get("/api/me").json()["name"] == "paul"  # this browser stays logged in


def test_oversize_user_form_is_refused(admin: TestClient) -> None:
    response = admin.post(
        "/admin/users", data={"csrf_token": _csrf(admin), "username": "big", "password": "p" * 3_000_000}
    )
    assert response.status_code in (400, 413)
    assert "big" not in [u["username"] for u in admin.get("/api/users").json()]
