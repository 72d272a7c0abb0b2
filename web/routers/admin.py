"""Admin: users (``tower users add``; sign out everywhere here), API tokens, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from storage import audit
from storage.audit import AuditPage
from web.accounts import AccountError, NewToken, TokenInfo, UserInfo
from web.deps import Admin, StateDep, WebState, render
from web.settings import USERNAME_PATTERN, Role
from web.views import PageNumber, page_links

router = APIRouter(tags=["admin"])
Username = Annotated[str, Path(pattern=USERNAME_PATTERN, description="User name.")]
AUDIT_PAGE_SIZE = 100


class SessionsEnded(BaseModel):
    username: str
    sessions_ended: int = Field(description="Live sessions that were ended.")


TokenId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{12}$", description="First 12 hex digits of the token digest")
]


class SlaSummary(BaseModel):
    name: str
    kind: str
    start: str
    end: str
    target_s: float
    clock: str


class SettingsView(BaseModel):
    """The dashboard's effective settings (secrets masked) and the SLA policy in force."""

    web: dict[str, Any]
    slas: list[SlaSummary]


def _settings_view(state: WebState) -> SettingsView:
    return SettingsView(
        web=state.settings.model_dump(mode="json"),
        slas=[
            SlaSummary(
                name=s.name,
                kind=s.kind,
                start=f"{s.start.stage}.{s.start.at}",
                end=f"{s.end.stage}.{s.end.at}",
                target_s=s.target,
                clock=s.clock,
            )
            for s in state.policy.slas
        ],
    )


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the token is for.")
    role: Role = Field(default=Role.VIEWER, description="Role the token acts with. Default: viewer")


@router.get("/admin", include_in_schema=False)
def admin_page(request: Request, state: StateDep, principal: Admin) -> Response:
    return _page(request, state, principal, new_token=None, error=None)


def _page(
    request: Request,
    state: StateDep,
    principal: Admin,
    *,
    new_token: NewToken | None,
    error: str | None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        state,
        "admin.html",
        {
            "nav": "admin",
            "users": state.accounts.list_users(),
            "tokens": state.accounts.list_tokens(),
            "roles": list(Role),
            "new_token": new_token,
            "error": error,
            "settings_view": _settings_view(state),
        },
        principal=principal,
        status_code=status_code,
    )


@router.post("/admin/tokens", include_in_schema=False)
def create_token_form(
    request: Request,
    state: StateDep,
    principal: Admin,
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()] = Role.VIEWER,
) -> Response:
    try:
        token = state.accounts.create_token(name, role, principal.name)
    except AccountError as exc:
        return _page(request, state, principal, new_token=None, error=str(exc), status_code=400)
    state.audit(
        request, principal.name, "token.create", token.info.token_id, details=_token_details(token.info)
    )
    return _page(request, state, principal, new_token=token, error=None)


def _token_details(info: TokenInfo) -> dict[str, Any]:
    return {"name": info.name, "role": info.role.value}


def _revoke(request: Request, state: WebState, principal: Admin, token_id: str) -> TokenInfo:
    try:
        info = state.accounts.revoke_token(token_id)
    except AccountError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    state.audit(request, principal.name, "token.revoke", token_id, details=_token_details(info))
    return info


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token_form(request: Request, state: StateDep, principal: Admin, token_id: TokenId) -> Response:
    _revoke(request, state, principal, token_id)
    return RedirectResponse("/admin", status_code=303)


def _sign_out(request: Request, state: WebState, principal: Admin, username: str) -> SessionsEnded:
    try:
        ended = state.accounts.sign_out_everywhere(username)
    except AccountError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    state.audit(request, principal.name, "user.signout", username, details={"sessions_ended": ended})
    return SessionsEnded(username=username, sessions_ended=ended)


@router.post("/admin/users/{username}/signout", include_in_schema=False)
def sign_out_form(request: Request, state: StateDep, principal: Admin, username: Username) -> Response:
    _sign_out(request, state, principal, username)
    return RedirectResponse("/admin", status_code=303)


@router.delete("/api/users/{username}/sessions", response_model=SessionsEnded)
def sign_out_api(request: Request, state: StateDep, principal: Admin, username: Username) -> SessionsEnded:
    """Sign a user out everywhere: every session of theirs ends at once (admin only)."""
    return _sign_out(request, state, principal, username)


class AuditFilters(BaseModel):
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _audit_page(state: WebState, filters: AuditFilters, page: int) -> AuditPage:
    return audit.events(
        state.store,
        actor=filters.actor,
        action=filters.action,
        outcome=filters.outcome,
        since=filters.since,
        until=filters.until,
        page=page,
        page_size=AUDIT_PAGE_SIZE,
    )


@router.get("/api/audit", response_model=AuditPage)
def audit_api(
    state: StateDep,
    principal: Admin,
    actor: Annotated[
        str, Query(max_length=200, description="Exact actor (user, token:<name>, cli:<user>).")
    ] = "",
    action: Annotated[
        str, Query(max_length=100, pattern=r"^[a-z0-9_.*]*$", description="Action or action prefix (token).")
    ] = "",
    outcome: Annotated[
        str, Query(pattern=r"^(|ok|failed|denied)$", description="ok, failed or denied.")
    ] = "",
    since: Annotated[datetime | None, Query(description="From this time (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (ISO 8601).")] = None,
    page: PageNumber = 1,
) -> AuditPage:
    """The audit log, newest first, 100 per page, filtered by actor, action, outcome and time (admin only)."""
    filters = AuditFilters(actor=actor, action=action, outcome=outcome, since=since, until=until)
    return _audit_page(state, filters, page)


@router.get("/admin/audit", include_in_schema=False)
def audit_page(
    request: Request,
    state: StateDep,
    principal: Admin,
    actor: Annotated[str, Query(max_length=200)] = "",
    action: Annotated[str, Query(max_length=100, pattern=r"^[a-z0-9_.*]*$")] = "",
    outcome: Annotated[str, Query(pattern=r"^(|ok|failed|denied)$")] = "",
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    page: PageNumber = 1,
) -> Response:
    filters = AuditFilters(actor=actor, action=action, outcome=outcome, since=since, until=until)
    result = _audit_page(state, filters, page)
    links = page_links(
        request.url.path, request.query_params.multi_items(), page, result.page_size, result.total
    )
    return render(
        request,
        state,
        "audit.html",
        {"nav": "admin", "result": result, "filters": filters, "links": links},
        principal=principal,
    )


@router.get("/api/settings", response_model=SettingsView)
def settings_api(state: StateDep, principal: Admin) -> SettingsView:
    """Effective dashboard settings (secrets masked) and the SLA policy (admin only)."""
    return _settings_view(state)


@router.get("/api/users", response_model=list[UserInfo])
def users(state: StateDep, principal: Admin) -> list[UserInfo]:
    """Users from configuration and from the store (admin only)."""
    return state.accounts.list_users()


@router.get("/api/tokens", response_model=list[TokenInfo])
def tokens(state: StateDep, principal: Admin) -> list[TokenInfo]:
    """API tokens, newest first (admin only); secrets are never shown again."""
    return state.accounts.list_tokens()


@router.post("/api/tokens", response_model=NewToken, status_code=201)
def create_token(request: Request, body: TokenRequest, state: StateDep, principal: Admin) -> NewToken:
    """Create an API token; the response holds the secret, the only time it is shown."""
    try:
        token = state.accounts.create_token(body.name, body.role, principal.name)
    except AccountError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    state.audit(
        request, principal.name, "token.create", token.info.token_id, details=_token_details(token.info)
    )
    return token


@router.delete("/api/tokens/{token_id}", response_model=TokenInfo)
def revoke_token(request: Request, token_id: TokenId, state: StateDep, principal: Admin) -> TokenInfo:
    """Revoke a token: requests with it get 401 within seconds."""
    return _revoke(request, state, principal, token_id)
