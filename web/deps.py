"""Typed FastAPI dependencies: the app's state, the caller, role guards, CSRF checks, templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from ai.service import AiService
from alerts.settings import AlertSettings
from kpis.jobs import KpiEngine
from kpis.policy import Policy
from storage import Store, audit
from web.accounts import Accounts, Principal
from web.alert_views import RulesCache
from web.flash import Flashes
from web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    SAFE_METHODS,
    SESSION_COOKIE,
    Network,
    NotAuthenticated,
    bearer_token,
    check_csrf,
    client_address,
    require_role,
)
from web.sessions import Session, SessionStore, login_csrf_pair, login_csrf_token
from web.settings import Role, WebSettings
from web.throttle import LoginThrottle


@dataclass
class WebState:
    """What handlers need, built once by :func:`web.app.create_app`."""

    settings: WebSettings
    store: Store
    accounts: Accounts
    templates: Jinja2Templates
    throttle: LoginThrottle
    policy: Policy
    engine: KpiEngine  # for exception actions, which refresh the order's rows
    alert_settings: AlertSettings | None = None  # for rule previews (``tower alerts test`` via the API)
    cookie_secret: bytes = b""  # signs the login form's CSRF cookie
    trusted_proxies: tuple[Network, ...] = ()
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # "now" for every page
    ai: AiService | None = None  # AI-assisted exception handling (None: not wired, pages answer 404)
    rules: RulesCache = field(default_factory=RulesCache)  # the alert rules file, for the on-call pages
    flashes: Flashes = field(default_factory=Flashes)  # one-time messages after a POST-redirect-GET

    def now(self) -> datetime:
        """The moment pages judge against (recent orders, at-risk SLAs, aging, active silences)."""
        return self.clock()

    @property
    def sessions(self) -> SessionStore:
        return self.accounts.sessions

    def address(self, request: Request) -> str:
        return client_address(request, self.trusted_proxies)

    def audit(
        self,
        request: Request,
        actor: str,
        action: str,
        target: str = "",
        *,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record who did what from where (``storage.audit``)."""
        audit.record(
            self.store, actor, action, target, outcome=outcome, address=self.address(request), details=details
        )


def get_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


StateDep = Annotated[WebState, Depends(get_state)]


def get_store(state: StateDep) -> Store:
    return state.store


StoreDep = Annotated[Store, Depends(get_store)]


_NO_SESSION = object()


def current_session(request: Request, state: WebState) -> Session | None:
    """The live server-side session behind the request's cookie (looked up once per request)."""
    cached = getattr(request.state, "tower_session", _NO_SESSION)
    if cached is not _NO_SESSION:
        return cached  # type: ignore[return-value]
    session = state.sessions.lookup(request.cookies.get(SESSION_COOKIE))
    if session is not None and state.accounts.user_role(session.username) is None:
        session = None  # the user was disabled or removed
    request.state.tower_session = session
    return session


def optional_principal(request: Request, state: StateDep) -> Principal | None:
    """The caller by Bearer token or session cookie, or None when anonymous."""
    token = bearer_token(request)
    if token is not None:
        principal = state.accounts.token_principal(token)
        if principal is None:
            raise NotAuthenticated("unknown or revoked API token")
        return principal
    session = current_session(request, state)
    if session is None:
        return None
    role = state.accounts.user_role(session.username)
    if role is None:
        return None
    return Principal(name=session.username, role=role, via="session")


def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the X-CSRF-Token header or the form field."""
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    return submitted


async def csrf_protect(request: Request, principal: CurrentUser, state: StateDep) -> Principal:
    """Unsafe requests made with a session cookie must carry the session's CSRF token."""
    if request.method in SAFE_METHODS or principal.via == "token":
        return principal
    session = current_session(request, state)
    check_csrf([session.csrf_token if session else None], await submitted_csrf(request))
    return principal


def _needs(role: Role) -> Any:
    def guard(principal: Annotated[Principal, Depends(csrf_protect)]) -> Principal:
        require_role(principal, role)
        return principal

    guard.__name__ = f"require_{role.value}"
    return guard


# Any logged-in user (viewer and up); for unsafe methods the CSRF check applies too.
Viewer = Annotated[Principal, Depends(_needs(Role.VIEWER))]
Ops = Annotated[Principal, Depends(_needs(Role.OPS))]
Admin = Annotated[Principal, Depends(_needs(Role.ADMIN))]


def render(
    request: Request,
    state: WebState,
    template: str,
    context: dict[str, Any],
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> Response:
    """Render a page with the layout's common context (user, CSRF token, active nav item)."""
    session = current_session(request, state) if principal is None or principal.via == "session" else None
    new_cookie = None
    if session is not None:
        token = session.csrf_token
    else:  # no session: the login form's signed double-submit token
        existing = login_csrf_token(state.cookie_secret, request.cookies.get(LOGIN_CSRF_COOKIE))
        if existing is None:
            existing, new_cookie = login_csrf_pair(state.cookie_secret)
        token = existing
    query = request.url.query
    context = {
        "user": principal,
        "csrf_token": token,
        "nav_items": request.app.state.nav_items,
        "data_as_of": state.now(),
        "refresh_href": request.url.path + (f"?{query}" if query else ""),
        "auto_refresh": False,
        "sla_label": state.policy.sla_label,
        **context,
    }
    response = state.templates.TemplateResponse(request, template, context, status_code=status_code)
    if new_cookie is not None:
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="lax",
            secure=state.settings.secure_cookies,
            path="/",
        )
    return response


def flash(request: Request, state: WebState, kind: str, value: Any) -> None:
    """Keep ``value`` for the next page this session opens (see :mod:`web.flash`)."""
    session = current_session(request, state)
    if session is not None:
        state.flashes.put(session.hash, kind, value)


def pop_flashes(request: Request, state: WebState, kind: str) -> list[Any]:
    """The session's pending ``kind`` messages, handed out once."""
    session = current_session(request, state)
    return state.flashes.pop(session.hash, kind) if session is not None else []
