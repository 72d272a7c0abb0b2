"""Server-side dashboard sessions: the cookie is an opaque random id, everything else is in the store.

A session row (``web_sessions``) holds the user, the session's CSRF token, when it was created and
last seen, and its absolute expiry. The cookie carries only 256 random bits; the table keeps their
SHA-256, so the table cannot be replayed as cookies. A session ends:

- at once, when it is revoked: logout, a password change, the user being disabled, or an admin's
  "sign out everywhere" (``tower users signout``, the admin page, ``DELETE /api/users/{u}/sessions``);
- after ``session_idle_timeout_s`` without a request (``LastSeen`` is refreshed at most once per
  ``touch_interval`` to keep writes rare; the idle timeout is therefore exact to that interval);
- ``session_max_age_s`` after login, whatever happens (absolute timeout).

Lookups are not cached: a revoked session is refused by the next request, on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage import SqlFiles, Store
from storage.times import naive

SQL = SqlFiles("web.queries")
TABLE = "web_sessions"
COLUMNS = [
    "SessionHash",
    "Username",
    "CsrfToken",
    "Address",
    "Created",
    "LastSeen",
    "ExpiresAt",
    "Revoked",
    "Version",
]
SESSION_ID_BYTES = 32
MAX_COOKIE_LENGTH = 100


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass
class Session:
    """One live session (the id itself is known only to the browser holding the cookie)."""

    hash: str
    username: str
    csrf_token: str
    address: str
    created: datetime
    last_seen: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Session:
        return cls(
            hash=row["SessionHash"],
            username=row["Username"],
            csrf_token=row["CsrfToken"],
            address=row["Address"],
            created=_aware(row["Created"]),
            last_seen=_aware(row["LastSeen"]),
            expires_at=_aware(row["ExpiresAt"]),
        )


class SessionStore:
    """Create, look up and revoke sessions in one store; ``clock`` says what time it is."""

    def __init__(
        self,
        store: Store,
        *,
        max_age_s: int,
        idle_timeout_s: int,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.max_age = timedelta(seconds=max_age_s)
        self.idle_timeout = timedelta(seconds=idle_timeout_s)
        self.touch_interval = min(timedelta(seconds=60), self.idle_timeout / 10)
        self.clock = clock or (lambda: datetime.now(UTC))

    def _write(self, session: Session, *, revoked: bool = False) -> None:
        self.store.insert(
            TABLE,
            [
                [
                    session.hash,
                    session.username,
                    session.csrf_token,
                    session.address,
                    naive(session.created),
                    naive(session.last_seen),
                    naive(session.expires_at),
                    int(revoked),
                    time.time_ns(),
                ]
            ],
            COLUMNS,
        )

    def create(self, username: str, address: str) -> tuple[str, Session]:
        """A new session for ``username``; returns the cookie value (shown once) and the record."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = self.clock()
        session = Session(
            hash=session_hash(session_id),
            username=username,
            csrf_token=secrets.token_urlsafe(32),
            address=address[:100],
            created=now,
            last_seen=now,
            expires_at=now + self.max_age,
        )
        self._write(session)
        return session_id, session

    def lookup(self, session_id: str | None) -> Session | None:
        """The live session behind a cookie value, or None (unknown, revoked, idle or expired)."""
        if not session_id or len(session_id) > MAX_COOKIE_LENGTH:
            return None
        rows = self.store.rows(SQL["session_by_hash"], {"session_hash": session_hash(session_id)})
        if not rows or rows[0]["Revoked"]:
            return None
        session = Session.from_row(rows[0])
        now = self.clock()
        if now >= session.expires_at or now - session.last_seen >= self.idle_timeout:
            return None
        if now - session.last_seen >= self.touch_interval:
            session.last_seen = now
            self._write(session)
        return session

    def revoke(self, session: Session) -> None:
        self._write(session, revoked=True)

    def revoke_user(self, username: str) -> int:
        """End every live session of ``username`` ("sign out everywhere"); returns how many."""
        rows = self.store.rows(SQL["sessions_of_user"], {"username": username, "now": naive(self.clock())})
        sessions = [Session.from_row(row) for row in rows]
        if sessions:
            version = time.time_ns()
            self.store.insert(
                TABLE,
                [
                    [
                        s.hash,
                        s.username,
                        s.csrf_token,
                        s.address,
                        naive(s.created),
                        naive(s.last_seen),
                        naive(s.expires_at),
                        1,
                        version,
                    ]
                    for s in sessions
                ],
                COLUMNS,
            )
        return len(sessions)

    def live_sessions(self, username: str) -> list[Session]:
        rows = self.store.rows(SQL["sessions_of_user"], {"username": username, "now": naive(self.clock())})
        now = self.clock()
        return [s for s in (Session.from_row(r) for r in rows) if now - s.last_seen < self.idle_timeout]


def login_csrf_pair(secret: bytes) -> tuple[str, str]:
    """A CSRF token for the login form and the signed cookie value that vouches for it.

    Anonymous visitors get no server-side session (that would let anyone fill the table); their
    login form is protected by a double-submit token whose cookie is HMAC-signed with the app key.
    """
    token = secrets.token_urlsafe(32)
    return token, f"{token}.{_sign(secret, token)}"


def login_csrf_token(secret: bytes, cookie: str | None) -> str | None:
    """The token vouched for by a login-CSRF cookie, or None when the cookie is missing or forged."""
    if not cookie or len(cookie) > 200 or "." not in cookie:
        return None
    token, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(_sign(secret, token), signature):
        return None
    return token


def _sign(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"login-csrf:" + token.encode(), hashlib.sha256).hexdigest()
