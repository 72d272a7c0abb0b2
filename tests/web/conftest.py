"""Fixtures for the dashboard: a real app on the real store, users of each role, logged-in clients.

The app judges "now" at the tests' anchor (``orderspans.NOW``), never at the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from orderspans import NOW

from ai.policy import load_ai_policy
from ai.service import AiService
from kpis.policy import load_policy
from storage import Store
from web import create_app
from web.accounts import Accounts, hash_password
from web.settings import ConfiguredUser, Role, WebSettings

PASSWORD = "correct horse battery"
USERS = {"vera": Role.VIEWER, "otto": Role.OPS, "ada": Role.ADMIN}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


def web_settings_for(password_hash: str) -> WebSettings:
    """Viewer and ops users from configuration; the admin is added to the store like `tower users add`."""
    return WebSettings(
        secret_key="test-secret-key-0123456789-abcdefghijklmnop",
        users=[
            ConfiguredUser(username="vera", password_hash=password_hash, role=Role.VIEWER),
            ConfiguredUser(username="otto", password_hash=password_hash, role=Role.OPS),
        ],
        login_attempts_per_minute=5,
    )


def make_app(store: Store, password_hash: str) -> FastAPI:
    settings = web_settings_for(password_hash)
    accounts = Accounts(store, settings)
    if accounts.user_role("ada") is None:
        accounts.add_user("ada", PASSWORD, Role.ADMIN)
    policy = load_policy()
    ai = AiService(store, policy, load_ai_policy(None))
    return create_app(settings, store, policy=policy, clock=lambda: NOW, ai=ai)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def app(module_store: Store, password_hash: str) -> FastAPI:
    """One app per test module over the module's database (tests add data with unique keys)."""
    return make_app(module_store, password_hash)


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield login(client, "vera")


@pytest.fixture
def ops(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield login(client, "otto")


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield login(client, "ada")
