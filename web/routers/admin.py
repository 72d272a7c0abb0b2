"""Admin: users (read-only here; ``tower users add``) and API tokens for the JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from web.accounts import AccountError, NewToken, TokenInfo, UserInfo
from web.deps import Admin, StateDep, WebState, render
from web.settings import Role

router = APIRouter(tags=["admin"])

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
    return _page(request, state, principal, new_token=token, error=None)


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token_form(state: StateDep, principal: Admin, token_id: TokenId) -> Response:
    try:
        state.accounts.revoke_token(token_id)
    except AccountError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return RedirectResponse("/admin", status_code=303)


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
def create_token(body: TokenRequest, state: StateDep, principal: Admin) -> NewToken:
    """Create an API token; the response holds the secret, the only time it is shown."""
    try:
        return state.accounts.create_token(body.name, body.role, principal.name)
    except AccountError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@router.delete("/api/tokens/{token_id}", response_model=TokenInfo)
def revoke_token(token_id: TokenId, state: StateDep, principal: Admin) -> TokenInfo:
    """Revoke a token: requests with it get 401 within seconds."""
    try:
        return state.accounts.revoke_token(token_id)
    except AccountError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
