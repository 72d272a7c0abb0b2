"""Finding 3: login throttling and the password rule. X-Forwarded-For is believed only from
configured proxies; failures lock the (user, address) pair, never other users at that address;
password spraying and distributed guessing are slowed, not turned into lockouts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from support.security import PASSWORD, log_in, security_app

from storage import Store
from web.accounts import AccountError, Accounts, hash_password
from web.passwords import common_passwords
from web.security import client_address, parse_networks
from web.settings import Role, WebSettings


def test_rotating_x_forwarded_for_does_not_reset_the_limit(module_store: Store) -> None:
    app = security_app(module_store, login_attempts_per_minute=5)
    with TestClient(app) as client:
        codes = [
            log_in(client, "otto", f"wrong-guess-{i}", **{"X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(7)
        ]
    assert codes == [401] * 5 + [429] * 2


def test_forwarded_address_is_used_only_from_a_trusted_proxy(module_store: Store) -> None:
    app = security_app(module_store, login_attempts_per_minute=3, trusted_proxies=["127.0.0.1/32"])
    with TestClient(app) as client:  # its peer is not 127.0.0.1: the header is ignored
        codes = [
            log_in(client, "otto", f"bad-{i}", **{"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(4)
        ]
    assert codes == [401, 401, 401, 429]
    proxies = parse_networks(["127.0.0.1/32", "10.0.0.0/8"])

    def seen(peer: str, forwarded: str) -> str:
        scope = {
            "type": "http",
            "client": (peer, 5000),
            "headers": [(b"x-forwarded-for", forwarded.encode())],
        }
        return client_address(Request(scope), proxies)

    assert seen("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert seen("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.1.1.1") == "203.0.113.7"  # spoofed left part ignored
    assert seen("198.51.100.9", "203.0.113.7") == "198.51.100.9"  # not a proxy: header ignored
    assert seen("127.0.0.1", "not-an-ip") == "127.0.0.1"


def test_many_failures_for_one_user_do_not_lock_out_another_user_at_that_address(module_store: Store) -> None:
    app = security_app(
        module_store, login_attempts_per_minute=5, login_address_failures_per_minute=5, login_slowdown_s=0.01
    )
    with TestClient(app) as client:
        for i in range(12):
            log_in(client, "otto", f"guess-{i}")
        assert log_in(client, "otto", PASSWORD) == 429  # the guessed account is locked from this address
    with TestClient(app) as colleague:
        assert log_in(colleague, "vera") == 303  # a colleague behind the same address gets in
    assert app.state.web.throttle.slowed >= 1  # ... slowed, because the address is spraying


def test_spraying_many_users_is_slowed_and_a_correct_user_still_gets_in(module_store: Store) -> None:
    app = security_app(module_store, login_address_failures_per_minute=5, login_slowdown_s=0.01)
    throttle = app.state.web.throttle
    with TestClient(app) as client:
        codes = [log_in(client, f"user{i}", "Winter2025!!x") for i in range(20)]
        assert codes == [401] * 20  # each pair failed once: no lock-out ...
        assert throttle.slowed >= 14  # ... but everything after the 5th failure waited
        assert log_in(client, "vera") == 303


def test_distributed_guessing_slows_the_account_but_never_locks_its_owner_out(module_store: Store) -> None:
    app = security_app(module_store, login_account_failures_per_hour=5, login_slowdown_s=0.01)
    throttle = app.state.web.throttle
    for i in range(8):
        throttle.failed("pat", f"192.0.2.{i}")
    before = throttle.slowed
    with TestClient(app) as owner:
        assert log_in(owner, "pat") == 303
    assert throttle.slowed == before + 1


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password" + " " * 8, "too common"),
        ("password", "at least 12"),
        ("Summer2024!!", "too common"),
        ("qwertyuiop123", "too common"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("dr-alice-smith-x", "user name"),
    ],
)
def test_weak_passwords_are_refused(module_store: Store, password: str, why: str) -> None:
    accounts = Accounts(module_store, WebSettings())
    with pytest.raises(AccountError, match=why):
        accounts.add_user("alice-smith", password, Role.VIEWER, replace=True)
    with pytest.raises(AccountError):
        hash_password(password, "alice-smith")


def test_the_bundled_list_is_the_30000_most_common_passwords() -> None:
    common = common_passwords()
    assert len(common) >= 29_000
    assert {"123456", "password", "iloveyou", "qwertyuiop"} <= common
