"""Login and logout (server-side sessions), changing one's password, and ``/api/me``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from web.accounts import AccountError, Principal
from web.deps import (
    StateDep,
    Viewer,
    current_session,
    flash,
    optional_principal,
    pop_flashes,
    render,
    submitted_csrf,
)
from web.passwords import MAX_PASSWORD_LENGTH
from web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, check_csrf, safe_next
from web.sessions import login_csrf_token
from web.throttle import Throttled

router = APIRouter(tags=["auth"])


def _login_page(
    request: Request, state: StateDep, *, target: str, error: str | None, username: str, status_code: int
) -> Response:
    context = {"next": target, "error": error, "nav": "", "username": username}
    return render(request, state, "login.html", context, status_code=status_code)


@router.get("/login", include_in_schema=False)
def login_form(
    request: Request, state: StateDep, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    if optional_principal(request, state) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, state, target=safe_next(next), error=None, username="", status_code=200)


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    previous = current_session(request, state)
    check_csrf(
        [
            login_csrf_token(state.cookie_secret, request.cookies.get(LOGIN_CSRF_COOKIE)),
            previous.csrf_token if previous else None,
        ],
        csrf_token,
    )
    address = state.address(request)
    target = safe_next(next)
    try:
        async with state.throttle.attempt(username, address):
            principal = await run_in_threadpool(state.accounts.authenticate, username, password)
            if principal is None:
                state.throttle.failed(username, address)
    except Throttled as exc:
        await run_in_threadpool(
            state.audit, request, username, "login", outcome="denied", details={"reason": str(exc)}
        )
        response = _login_page(
            request, state, target=target, error=str(exc), username=username, status_code=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if principal is None:
        await run_in_threadpool(state.audit, request, username, "login", outcome="failed")
        return _login_page(
            request,
            state,
            target=target,
            error="Wrong user name or password.",
            username=username,
            status_code=401,
        )
    state.throttle.succeeded(username, address)

    def start_session() -> str:
        if previous is not None:  # a fresh session (and CSRF token) at every login: no fixation
            state.sessions.revoke(previous)
        session_id, _ = state.sessions.create(principal.name, address)
        state.audit(request, principal.name, "login")
        return session_id

    session_id = await run_in_threadpool(start_session)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(response, state, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _set_session_cookie(response: Response, state: StateDep, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=state.settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, state: StateDep) -> Response:
    session = await run_in_threadpool(current_session, request, state)
    if session is not None:
        check_csrf([session.csrf_token], await submitted_csrf(request))
        await run_in_threadpool(state.sessions.revoke, session)
        await run_in_threadpool(state.audit, request, session.username, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", include_in_schema=False)
def account_page(request: Request, state: StateDep, principal: Viewer) -> Response:
    done = bool(pop_flashes(request, state, "password.changed"))
    return _account(request, state, principal, error=None, done=done, status_code=200)


def _account(
    request: Request,
    state: StateDep,
    principal: Principal,
    *,
    error: str | None,
    done: bool,
    status_code: int,
) -> Response:
    return render(
        request,
        state,
        "account.html",
        {"nav": "", "error": error, "done": done, "stored": principal.name not in state.accounts.configured},
        principal=principal,
        status_code=status_code,
    )


@router.post("/account/password", include_in_schema=False)
def change_password(
    request: Request,
    state: StateDep,
    principal: Viewer,
    current: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    new: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    confirm: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
) -> Response:
    """Change one's own password: every session of the user ends, this browser gets a new one."""
    if principal.via != "session":
        return _account(
            request, state, principal, error="log in to change a password", done=False, status_code=400
        )
    try:
        if new != confirm:
            raise AccountError("the new password and its confirmation differ")
        state.accounts.change_password(principal.name, current, new)
    except AccountError as exc:
        state.audit(
            request,
            principal.name,
            "password.change",
            principal.name,
            outcome="failed",
            details={"reason": str(exc)},
        )
        return _account(request, state, principal, error=str(exc), done=False, status_code=400)
    state.audit(request, principal.name, "password.change", principal.name)
    session_id, session = state.sessions.create(principal.name, state.address(request))
    request.state.tower_session = session
    flash(request, state, "password.changed", True)
    response = RedirectResponse("/account", status_code=303)  # a refresh does not post it again
    _set_session_cookie(response, state, session_id)
    return response


@router.get("/api/me", response_model=Principal, tags=["auth"])
def me(principal: Viewer) -> Principal:
    """The caller: user or token name and role."""
    return principal
