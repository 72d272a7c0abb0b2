"""Dashboard users and API tokens: argon2 password hashes, tokens stored only as SHA-256 digests.

Users come from two places: ``web.users`` in the configuration (read-only, win on a name clash)
and the ``web_users`` table, written by ``tower users add``. API tokens live in ``web_api_tokens``
and are created by admins on the tokens page (or ``POST /api/tokens``); the secret is shown once.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, Field

from storage import SqlFiles, Store
from storage.errors import TowerError
from web import passwords
from web.passwords import MAX_PASSWORD_LENGTH
from web.sessions import SessionStore
from web.settings import USERNAME_PATTERN, Role, WebSettings

SQL = SqlFiles("web.queries")
TOKEN_PREFIX = "oct_"
_USERNAME = re.compile(USERNAME_PATTERN)
_HASHER = PasswordHasher()
_CACHE_SECONDS = 5.0


class AccountError(TowerError, ValueError):
    """A user or token request that cannot be honoured; the message says why."""


class Principal(BaseModel):
    """Who is calling: a logged-in user or an API token."""

    name: str = Field(description="User name, or token:<name> for an API token.")
    role: Role
    via: str = Field(description="session or token")


class UserInfo(BaseModel):
    username: str
    role: Role
    source: str = Field(description="config or store")
    disabled: bool = False


class TokenInfo(BaseModel):
    token_id: str = Field(description="First 12 hex digits of the token's SHA-256, to refer to it.")
    name: str
    role: Role
    created_by: str
    created: datetime
    revoked: bool


class NewToken(BaseModel):
    token: str = Field(description="The secret; shown once, send it as `Authorization: Bearer <token>`.")
    info: TokenInfo


def hash_password(password: str, username: str | None = None) -> str:
    """An argon2id hash of ``password`` (for ``web.users[].password_hash`` or the users table)."""
    check_password(password, username)
    return _HASHER.hash(password)


def check_password(password: str, username: str | None = None) -> None:
    """Raise :class:`AccountError` unless ``password`` follows :mod:`web.passwords`' rule."""
    why = passwords.problem(password, username)
    if why:
        raise AccountError(why)


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise AccountError("a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
    return username


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _version() -> int:
    return time.time_ns()


class Accounts:
    """Users and tokens of one store, with a few seconds of caching for per-request lookups."""

    def __init__(self, store: Store, settings: WebSettings, sessions: SessionStore | None = None) -> None:
        self.store = store
        self.configured = {user.username: user for user in settings.users}
        self.sessions = sessions or SessionStore(
            store, max_age_s=settings.session_max_age_s, idle_timeout_s=settings.session_idle_timeout_s
        )
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    # -- cache ----------------------------------------------------------------------------------

    def _cached(self, kind: str, key: str, load: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((kind, key))
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[(kind, key)] = (now, value)
        return value

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- users ----------------------------------------------------------------------------------

    def _stored_user(self, username: str) -> dict[str, Any] | None:
        rows = self.store.rows(SQL["user_by_name"], {"username": username})
        return rows[0] if rows else None

    def user_role(self, username: str) -> Role | None:
        """The role of an active user, or None when the user does not exist or is disabled."""
        configured = self.configured.get(username)
        if configured is not None:
            return configured.role
        row = self._cached("user", username, lambda: self._stored_user(username))
        if row is None or row["Disabled"]:
            return None
        return Role(row["Role"])

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The user when the password matches, else None (same cost for unknown names)."""
        if not _USERNAME.match(username) or len(password) > MAX_PASSWORD_LENGTH:
            _verify(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
            return None
        configured = self.configured.get(username)
        if configured is not None:
            stored_hash, role, disabled = configured.password_hash.get_secret_value(), configured.role, False
        else:
            row = self._stored_user(username)
            if row is None:
                _verify(_dummy_hash(), password)
                return None
            stored_hash, role, disabled = row["PasswordHash"], Role(row["Role"]), bool(row["Disabled"])
        if not _verify(stored_hash, password) or disabled:
            return None
        return Principal(name=username, role=role, via="session")

    def add_user(self, username: str, password: str, role: Role, *, replace: bool = False) -> UserInfo:
        """Store a user (``tower users add``); refuses to overwrite one unless ``replace``."""
        check_username(username)
        check_password(password, username)
        if username in self.configured:
            raise AccountError(
                f"user {username} is defined in the configuration (web.users); change it there"
            )
        existing = self._stored_user(username)
        if existing is not None and not existing["Disabled"] and not replace:
            raise AccountError(
                f"user {username} already exists (use --replace to change the password or role)"
            )
        self._write_user(username, _HASHER.hash(password), role, disabled=False)
        if existing is not None:
            self.sessions.revoke_user(username)  # a new password or role: log in again everywhere
        return UserInfo(username=username, role=role, source="store")

    def change_password(self, username: str, current: str, new: str) -> None:
        """A user changes their own password; every session of theirs ends (the caller starts a new one)."""
        if username in self.configured:
            raise AccountError(
                "this user is defined in the configuration (web.users); an administrator changes it there"
            )
        existing = self._stored_user(username)
        if existing is None or existing["Disabled"]:
            raise AccountError(f"no active stored user {username}")
        if not _verify(existing["PasswordHash"], current[:MAX_PASSWORD_LENGTH]):
            raise AccountError("the current password is wrong")
        if new == current:
            raise AccountError("the new password must differ from the current one")
        check_password(new, username)
        self._write_user(username, _HASHER.hash(new), Role(existing["Role"]), disabled=False)
        self.sessions.revoke_user(username)

    def disable_user(self, username: str) -> int:
        """Disable a stored user and end their sessions at once; returns the sessions ended."""
        if username in self.configured:
            raise AccountError(
                f"user {username} is defined in the configuration (web.users); remove it there"
            )
        existing = self._stored_user(username)
        if existing is None:
            raise AccountError(f"no stored user {username}")
        self._write_user(username, existing["PasswordHash"], Role(existing["Role"]), disabled=True)
        return self.sessions.revoke_user(username)

    def enable_user(self, username: str) -> None:
        """Let a disabled stored user log in again (with their old password)."""
        existing = self._stored_user(username)
        if existing is None:
            raise AccountError(f"no stored user {username}")
        self._write_user(username, existing["PasswordHash"], Role(existing["Role"]), disabled=False)

    def reset_password(self, username: str, new: str) -> int:
        """An admin sets a stored user's password (the password rule applies); every session of
        theirs ends. Returns the sessions ended."""
        if username in self.configured:
            raise AccountError(
                f"user {username} is defined in the configuration (web.users); change the password there"
            )
        existing = self._stored_user(username)
        if existing is None:
            raise AccountError(f"no stored user {username}")
        check_password(new, username)
        self._write_user(
            username, _HASHER.hash(new), Role(existing["Role"]), disabled=bool(existing["Disabled"])
        )
        return self.sessions.revoke_user(username)

    def sign_out_everywhere(self, username: str) -> int:
        """End every session of ``username`` (an admin's "sign out everywhere"); returns how many."""
        if username not in self.configured and self._stored_user(username) is None:
            raise AccountError(f"no user {username}")
        return self.sessions.revoke_user(username)

    def _write_user(self, username: str, password_hash: str, role: Role, *, disabled: bool) -> None:
        self.store.insert(
            "web_users",
            [[username, password_hash, role.value, int(disabled), datetime.now(UTC), _version()]],
            ["Username", "PasswordHash", "Role", "Disabled", "Updated", "Version"],
        )
        self._forget()

    def list_users(self) -> list[UserInfo]:
        users = [
            UserInfo(username=u.username, role=u.role, source="config") for u in self.configured.values()
        ]
        for row in self.store.rows(SQL["users_list"]):
            if row["Username"] not in self.configured:
                users.append(
                    UserInfo(
                        username=row["Username"],
                        role=Role(row["Role"]),
                        source="store",
                        disabled=bool(row["Disabled"]),
                    )
                )
        return sorted(users, key=lambda u: u.username)

    # -- API tokens -----------------------------------------------------------------------------

    def create_token(self, name: str, role: Role, created_by: str) -> NewToken:
        name = name.strip()
        if not 1 <= len(name) <= 100 or not name.isprintable():
            raise AccountError("a token name is 1-100 printable characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(secret)
        created = datetime.now(UTC)
        self.store.insert(
            "web_api_tokens",
            [[digest, name, role.value, created_by, created, 0, _version()]],
            ["TokenHash", "Name", "Role", "CreatedBy", "Created", "Revoked", "Version"],
        )
        info = TokenInfo(
            token_id=digest[:12], name=name, role=role, created_by=created_by, created=created, revoked=False
        )
        return NewToken(token=secret, info=info)

    def token_principal(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        row = self._cached(
            "token", digest, lambda: _first(self.store.rows(SQL["token_by_hash"], {"token_hash": digest}))
        )
        if row is None or row["Revoked"]:
            return None
        return Principal(name=f"token:{row['Name']}", role=Role(row["Role"]), via="token")

    def list_tokens(self, limit: int = 500) -> list[TokenInfo]:
        return [_token_info(row) for row in self.store.rows(SQL["tokens_list"], {"limit": limit})]

    def revoke_token(self, token_id: str) -> TokenInfo:
        if not re.fullmatch(r"[0-9a-f]{12}", token_id):
            raise AccountError("a token id is 12 hex digits")
        matches = [
            row
            for row in self.store.rows(SQL["tokens_list"], {"limit": 100_000})
            if row["TokenHash"].startswith(token_id)
        ]
        if not matches:
            raise AccountError(f"no token {token_id}")
        row = matches[0]
        self.store.insert(
            "web_api_tokens",
            [[row["TokenHash"], row["Name"], row["Role"], row["CreatedBy"], row["Created"], 1, _version()]],
            ["TokenHash", "Name", "Role", "CreatedBy", "Created", "Revoked", "Version"],
        )
        self._forget()
        row["Revoked"] = 1
        return _token_info(row)


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


def _token_info(row: dict[str, Any]) -> TokenInfo:
    return TokenInfo(
        token_id=row["TokenHash"][:12],
        name=row["Name"],
        role=Role(row["Role"]),
        created_by=row["CreatedBy"],
        created=row["Created"],
        revoked=bool(row["Revoked"]),
    )


@functools.cache
def _dummy_hash() -> str:
    """Verified when a user name is unknown, so a wrong name costs as much as a wrong password."""
    return _HASHER.hash(secrets.token_hex(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
