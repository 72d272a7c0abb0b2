"""The security tests' dashboard: the real app on the real store, users of each role, logging in.

The app judges "now" at the tests' anchor (``clock.ANCHOR``), never at the wall clock.
"""

from __future__ import annotations

import re

from clock import ANCHOR
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kpis.policy import load_policy
from storage import Store
from web import create_app
from web.accounts import Accounts, hash_password
from web.settings import ConfiguredUser, Role, WebSettings

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD, **headers: str) -> int:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        headers=headers,
        follow_redirects=False,
    )
    return response.status_code


def security_app(store: Store, **settings: object) -> FastAPI:
    web = WebSettings(
        secret_key="security-test-key-0123456789-abcdefghij",
        users=[ConfiguredUser(username="vera", password_hash=hash_password(PASSWORD), role=Role.VIEWER)],
        **settings,  # type: ignore[arg-type]
    )
    accounts = Accounts(store, web)
    for name, role in (("ada", Role.ADMIN), ("otto", Role.OPS), ("pat", Role.OPS)):
        if accounts.user_role(name) is None:
            accounts.add_user(name, PASSWORD, role, replace=True)
    return create_app(web, store, policy=load_policy(), clock=lambda: ANCHOR)
