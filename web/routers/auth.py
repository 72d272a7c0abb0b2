"""Login and logout (signed-cookie sessions) and ``/api/me``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from web.accounts import MAX_PASSWORD_LENGTH, Principal
from web.deps import StateDep, Viewer, optional_principal, render
from web.security import SESSION_CSRF, SESSION_USER, check_csrf, safe_next

router = APIRouter(tags=["auth"])


@router.get("/login", include_in_schema=False)
def login_form(
    request: Request, state: StateDep, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    if optional_principal(request, state) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request, state, "login.html", {"next": safe_next(next), "error": None, "nav": "", "username": ""}
    )


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    client = f"ip:{request.client.host if request.client else 'unknown'}"
    keys = (f"user:{username}", client)
    target = safe_next(next)
    if state.throttle.blocked(*keys):
        return render(
            request,
            state,
            "login.html",
            {
                "next": target,
                "error": "Too many failed logins; wait a minute.",
                "nav": "",
                "username": username,
            },
            status_code=429,
        )
    principal = state.accounts.authenticate(username, password)
    if principal is None:
        state.throttle.failed(*keys)
        return render(
            request,
            state,
            "login.html",
            {"next": target, "error": "Wrong user name or password.", "nav": "", "username": username},
            status_code=401,
        )
    state.throttle.succeeded(*keys)
    request.session.clear()  # a fresh session (and CSRF token) after login: no fixation
    request.session[SESSION_USER] = principal.name
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return RedirectResponse(target, status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf_token)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/api/me", response_model=Principal, tags=["auth"])
def me(principal: Viewer) -> Principal:
    """The caller: user or token name and role."""
    return principal
