"""Who is calling and what they may do: client address, roles, CSRF, security headers, body limit.

Sessions live on the server (:mod:`web.sessions`); the cookie holds only an opaque random id. The
role is looked up on every request so that disabling a user or changing a role takes effect within
seconds. API clients send ``Authorization: Bearer <token>``. Every state-changing request made with
a session cookie must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``), which is kept server-side with the session; token-authenticated requests carry
no cookie, so they need none. The login form (no session yet) uses a signed double-submit token.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage.errors import TowerError
from web.accounts import Principal
from web.settings import Role

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "tower_session"
LOGIN_CSRF_COOKIE = "tower_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Every page: scripts only from the package's own static files (no inline script, no eval, no CDN);
# the pages work without JavaScript, and span attributes are attacker-controlled.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PATH = "/docs"
# /docs has the same policy plus connect-src 'self': Swagger UI (vendored under /static/swaggerui)
# fetches the schema from the same origin. Still no inline script and nothing from elsewhere.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class NotAuthenticated(TowerError):
    """No valid session or token: pages redirect to the login form, the API answers 401."""

    def __init__(self, reason: str = "login required") -> None:
        super().__init__(reason)
        self.reason = reason


class SecurityHeadersMiddleware:
    """Adds the security headers (strict CSP included) to every response; no-store for non-static."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")
        docs = scope.get("path", "") == DOCS_PATH

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if docs:
                    headers["content-security-policy"] = DOCS_CONTENT_SECURITY_POLICY
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413 before any handler reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._refuse(send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(status_code=413, detail=f"request body over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = f'{{"detail":"request body over {self.limit} bytes"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def check_csrf(expected: Iterable[str | None], submitted: str | None) -> None:
    """Refuse (403) unless ``submitted`` equals one of the ``expected`` tokens."""
    if submitted:
        for token in expected:
            if token and hmac.compare_digest(token.encode(), submitted.encode()):
                return
    raise HTTPException(status_code=403, detail="missing or invalid CSRF token; reload the page and retry")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def client_address(request: Request, trusted_proxies: tuple[Network, ...]) -> str:
    """The client's address: the TCP peer, or — only when the peer is a trusted proxy — the
    right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return client  # garbage beyond this point was written by the client itself
        client = str(address)
        if not _trusted(client, trusted_proxies):
            return client
    return client


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return any(ip in net for net in networks)


def safe_next(target: str | None) -> str:
    """A post-login redirect target: a local path only (no scheme, host or protocol-relative URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def safe_href(url: object) -> str:
    """``url`` when it is an http(s) URL or a local path, else ``#`` (kills ``javascript:`` and friends)."""
    text = str(url or "").strip()
    if text.startswith("/") and not text.startswith("//"):
        return text
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return text
    return "#"


def require_role(principal: Principal, needed: Role) -> None:
    if not principal.role.allows(needed):
        raise HTTPException(
            status_code=403, detail=f"this needs the {needed.value} role; you are {principal.role.value}"
        )
