"""Typed FastAPI dependencies: the app's state, the caller, role guards, CSRF checks, templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from alerts.settings import AlertSettings
from kpis.jobs import KpiEngine
from kpis.policy import Policy
from storage import Store
from web.accounts import Accounts, Principal
from web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_USER,
    LoginThrottle,
    NotAuthenticated,
    bearer_token,
    check_csrf,
    csrf_token,
    require_role,
)
from web.settings import Role, WebSettings


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
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # "now" for every page

    def now(self) -> datetime:
        """The moment pages judge against (recent orders, at-risk SLAs, aging, active silences)."""
        return self.clock()


def get_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


StateDep = Annotated[WebState, Depends(get_state)]


def get_store(state: StateDep) -> Store:
    return state.store


StoreDep = Annotated[Store, Depends(get_store)]


def optional_principal(request: Request, state: StateDep) -> Principal | None:
    """The caller by Bearer token or session cookie, or None when anonymous."""
    token = bearer_token(request)
    if token is not None:
        principal = state.accounts.token_principal(token)
        if principal is None:
            raise NotAuthenticated("unknown or revoked API token")
        return principal
    username = request.session.get(SESSION_USER)
    if not isinstance(username, str):
        return None
    role = state.accounts.user_role(username)
    if role is None:
        request.session.clear()
        return None
    return Principal(name=username, role=role, via="session")


def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def csrf_protect(request: Request, principal: CurrentUser) -> Principal:
    """Unsafe requests made with a session cookie must carry the session's CSRF token."""
    if request.method in SAFE_METHODS or principal.via == "token":
        return principal
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    check_csrf(request, submitted)
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
    context = {
        "user": principal,
        "csrf_token": csrf_token(request),
        "nav_items": request.app.state.nav_items,
        **context,
    }
    return state.templates.TemplateResponse(request, template, context, status_code=status_code)
