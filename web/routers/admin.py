"""Admin: users (add with a role, disable, enable, reset a password, sign out everywhere), API tokens
(created by POST-redirect-GET, the secret shown once), and the audit log. Every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from storage import audit
from storage.audit import AuditPage
from web.accounts import AccountError, NewToken, TokenInfo, UserInfo
from web.deps import Admin, StateDep, WebState, flash, pop_flashes, render
from web.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from web.settings import USERNAME_PATTERN, Role
from web.views import PageNumber, page_links

router = APIRouter(tags=["admin"])
Username = Annotated[str, Path(pattern=USERNAME_PATTERN, description="User name.")]
AUDIT_PAGE_SIZE = 100
UserAction = Annotated[str, Path(pattern=r"^(disable|enable|password)$", description="What to do.")]
PASSWORD_RULE = (
    f"At least {MIN_PASSWORD_LENGTH} characters, not containing the user name, not a common password."
)


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
    tokens = pop_flashes(request, state, "token.new")
    notices = pop_flashes(request, state, "admin.notice")
    return _page(request, state, principal, new_token=tokens[-1] if tokens else None, notices=notices)


def _page(
    request: Request,
    state: StateDep,
    principal: Admin,
    *,
    new_token: NewToken | None = None,
    error: str | None = None,
    notices: list[str] | None = None,
    user_form: dict[str, str] | None = None,
    user_error: str = "",
    user_errors: dict[str, str] | None = None,
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
            "notices": notices or [],
            "user_form": user_form or {"username": "", "role": Role.VIEWER.value},
            "user_error": user_error,
            "user_errors": user_errors or {},
            "settings_view": _settings_view(state),
            "password_rule": PASSWORD_RULE,
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
    """Create a token, then redirect: the secret is shown once by the page that follows (kept on the
    server for this session, never in the URL), and a refresh does not create another token."""
    try:
        token = state.accounts.create_token(name, role, principal.name)
    except AccountError as exc:
        return _page(request, state, principal, error=str(exc), status_code=400)
    state.audit(
        request, principal.name, "token.create", token.info.token_id, details=_token_details(token.info)
    )
    flash(request, state, "token.new", token)
    return RedirectResponse("/admin#tokens", status_code=303)


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
    ended = _sign_out(request, state, principal, username)
    flash(
        request,
        state,
        "admin.notice",
        f"{username} signed out everywhere ({ended.sessions_ended} session(s) ended).",
    )
    return RedirectResponse("/admin#users", status_code=303)


class UserRequest(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="1-64 letters, digits, '.', '_', '@' or '-'.")
    role: Role = Field(default=Role.VIEWER, description="viewer, ops or admin. Default: viewer")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH, description=PASSWORD_RULE)


class PasswordReset(BaseModel):
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH, description=PASSWORD_RULE)


class UserChanged(BaseModel):
    user: UserInfo
    sessions_ended: int = Field(default=0, description="Live sessions of the user that were ended.")


def _user_info(state: WebState, username: str) -> UserInfo:
    for user in state.accounts.list_users():
        if user.username == username:
            return user
    raise HTTPException(status_code=404, detail=f"no user {username}")


def _add_user(request: Request, state: WebState, principal: Admin, body: UserRequest) -> UserInfo:
    try:
        info = state.accounts.add_user(body.username, body.password, body.role)
    except AccountError as exc:
        state.audit(
            request, principal.name, "user.add", body.username, outcome="failed", details={"reason": str(exc)}
        )
        raise
    state.audit(request, principal.name, "user.add", body.username, details={"role": body.role.value})
    return info


def _change_user(
    request: Request, state: WebState, principal: Admin, username: str, action: str, password: str = ""
) -> UserChanged:
    """Disable, enable or reset the password of a stored user; every attempt is audited."""
    ended = 0
    try:
        if action == "disable":
            if username == principal.name:
                raise AccountError("you cannot disable yourself; ask another admin")
            ended = state.accounts.disable_user(username)
        elif action == "enable":
            state.accounts.enable_user(username)
        else:
            ended = state.accounts.reset_password(username, password)
    except AccountError as exc:
        state.audit(
            request,
            principal.name,
            f"user.{action}",
            username,
            outcome="failed",
            details={"reason": str(exc)},
        )
        raise
    state.audit(request, principal.name, f"user.{action}", username, details={"sessions_ended": ended})
    return UserChanged(user=_user_info(state, username), sessions_ended=ended)


@router.post("/admin/users", include_in_schema=False)
async def add_user_form(request: Request, state: StateDep, principal: Admin) -> Response:
    """Add a user; a refused one comes back with the form as typed (but the password) and the reason."""
    form = await request.form(max_fields=10)
    kept = {k: str(form.get(k) or "")[:200] for k in ("username", "role")}
    password = str(form.get("password") or "")
    try:
        body = UserRequest.model_validate(
            {"username": kept["username"].strip(), "role": kept["role"] or "viewer", "password": password}
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        why = {
            "username": "a user name is 1-64 letters, digits, '.', '_', '@' or '-'",
            "role": "choose viewer, ops or admin",
            "password": f"the password must have 1-{MAX_PASSWORD_LENGTH} characters",
        }.get(field, str(exc.errors()[0]["msg"]))
        return _page(request, state, principal, user_form=kept, user_errors={field: why}, status_code=400)
    try:
        _add_user(request, state, principal, body)
    except AccountError as exc:
        field = "password" if "password" in str(exc) else "username"
        return _page(
            request, state, principal, user_form=kept, user_errors={field: str(exc)}, status_code=400
        )
    flash(request, state, "admin.notice", f"User {body.username} added with the {body.role.value} role.")
    return RedirectResponse("/admin#users", status_code=303)


@router.post("/admin/users/{username}/{action}", include_in_schema=False)
async def change_user_form(
    request: Request, state: StateDep, principal: Admin, username: Username, action: UserAction
) -> Response:
    form = await request.form(max_fields=10)
    password = str(form.get("password") or "")
    try:
        if action == "password" and len(password) > MAX_PASSWORD_LENGTH:
            raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
        changed = _change_user(request, state, principal, username, action, password)
    except AccountError as exc:
        return _page(request, state, principal, user_error=f"{username}: {exc}", status_code=400)
    done = {
        "disable": f"{username} is disabled; {changed.sessions_ended} session(s) ended.",
        "enable": f"{username} can log in again.",
        "password": f"Password of {username} reset; {changed.sessions_ended} session(s) ended.",
    }[action]
    flash(request, state, "admin.notice", done)
    return RedirectResponse("/admin#users", status_code=303)


@router.post("/api/users", response_model=UserInfo, status_code=201)
def add_user_api(request: Request, body: UserRequest, state: StateDep, principal: Admin) -> UserInfo:
    """Add a user with a role and a password that follows the password rule (admin only)."""
    try:
        return _add_user(request, state, principal, body)
    except AccountError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@router.post("/api/users/{username}/disable", response_model=UserChanged)
def disable_user_api(request: Request, state: StateDep, principal: Admin, username: Username) -> UserChanged:
    """Disable a stored user: they cannot log in and every session of theirs ends (admin only)."""
    return _change_api(request, state, principal, username, "disable")


@router.post("/api/users/{username}/enable", response_model=UserChanged)
def enable_user_api(request: Request, state: StateDep, principal: Admin, username: Username) -> UserChanged:
    """Let a disabled stored user log in again (admin only)."""
    return _change_api(request, state, principal, username, "enable")


@router.post("/api/users/{username}/password", response_model=UserChanged)
def reset_password_api(
    request: Request, body: PasswordReset, state: StateDep, principal: Admin, username: Username
) -> UserChanged:
    """Set a stored user's password (the password rule applies); their sessions end (admin only)."""
    return _change_api(request, state, principal, username, "password", body.password)


def _change_api(
    request: Request, state: WebState, principal: Admin, username: str, action: str, password: str = ""
) -> UserChanged:
    try:
        return _change_user(request, state, principal, username, action, password)
    except AccountError as exc:
        status = 404 if str(exc).startswith("no stored user") else 400
        raise HTTPException(status_code=status, detail=str(exc)) from None


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
