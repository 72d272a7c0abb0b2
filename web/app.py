"""The dashboard's app factory: Jinja2 pages and the JSON API under ``/api/``, one router per area."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from ai.service import AiService
from alerts.settings import AlertSettings
from kpis.jobs import KpiEngine
from kpis.policy import Policy
from storage import Store
from web import formatting
from web.accounts import Accounts
from web.deps import WebState, optional_principal, render
from web.kpicache import RequestScope
from web.security import (
    DOCS_PATH,
    BodyLimitMiddleware,
    NotAuthenticated,
    SecurityHeadersMiddleware,
    is_api,
    parse_networks,
    safe_href,
)
from web.settings import WebSettings
from web.throttle import LoginThrottle

log = logging.getLogger(__name__)
OPENAPI_URL = "/api/openapi.json"
DOCS_URL = DOCS_PATH


def templates_env() -> jinja2.Environment:
    """Jinja2 with autoescaping for every template (HTML and SVG alike) and the tower's filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dt=formatting.fmt_datetime,
        time=formatting.fmt_time,
        dur=formatting.fmt_duration,
        num=formatting.fmt_number,
        pct=formatting.fmt_percent,
        qty=formatting.fmt_quantity,
        safe_href=safe_href,
        exception_ref=formatting.exception_ref,
    )
    return env


def create_app(
    settings: WebSettings,
    store: Store,
    *,
    policy: Policy,
    secret_key: str | None = None,
    alert_settings: AlertSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    ai: AiService | None = None,
) -> FastAPI:
    """Build the dashboard for ``store``.

    ``policy`` is the process's SLA/KPI policy (loaded once by ``tower``). ``secret_key`` signs the
    login form's CSRF cookie (sessions themselves are server-side records); it defaults to
    ``settings.secret_key``, else a random key (``tower serve`` keeps one in the data dir).
    ``clock`` gives the "now" pages judge against (default: the wall clock; tests pass a fixed
    moment).
    """
    key = secret_key or (settings.secret_key.get_secret_value() if settings.secret_key else None)
    if not key:
        log.warning("web.secret_key is not set: using a random key for the login form's CSRF cookie")
        key = secrets.token_urlsafe(32)

    app = FastAPI(
        title="Order Control Tower",
        version="1",
        summary="Order traces, SLAs, exceptions and KPIs across ERP, EDI, WMS and carriers.",
        openapi_url=None,  # served below, behind the dashboard's login unless web.public_openapi
        docs_url=None,  # /docs is served below: Swagger UI from the package (no CDN), behind the login
        redoc_url=None,
    )
    templates = Jinja2Templates(env=templates_env())
    app.state.web = WebState(
        settings=settings,
        store=store,
        accounts=Accounts(store, settings),
        templates=templates,
        throttle=LoginThrottle(
            settings.login_attempts_per_minute,
            settings.login_address_failures_per_minute,
            settings.login_account_failures_per_hour,
            settings.login_slowdown_s,
        ),
        policy=policy,
        engine=KpiEngine(store, policy),
        alert_settings=alert_settings,
        cookie_secret=key.encode(),
        trusted_proxies=parse_networks(settings.trusted_proxies),
        ai=ai,
    )
    if clock is not None:
        app.state.web.clock = clock
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestScope)
    static_dir = Path(str(resources.files("web").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    _install_error_handlers(app)
    _include_routers(app)
    _install_openapi(app, settings)
    return app


def summarize_operations(router: APIRouter) -> None:
    """Every API operation's summary is the first sentence of its docstring ("Search orders by any
    key...") instead of FastAPI's title-cased function name ("Api Search")."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.include_in_schema and not route.summary:
            first = first_sentence(route.description or "")
            if first:
                route.summary = first


def first_sentence(text: str, limit: int = 120) -> str:
    """The docstring's first sentence: up to the first '.', ':' or ';' outside parentheses that ends
    a sentence (not "e.g."), without markup backticks, at most ``limit`` characters."""
    text = " ".join(text.replace("``", "").split())
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        at_end = i + 1 == len(text) or text[i + 1] == " "
        if depth <= 0 and ch in ".:;" and at_end and not re.search(r"\b(e\.g|i\.e|etc)\.$", text[: i + 1]):
            text = text[:i]
            break
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _install_openapi(app: FastAPI, settings: WebSettings) -> None:
    """The OpenAPI schema follows the dashboard's auth (``web.public_openapi`` opens it)."""

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        if not settings.public_openapi and optional_principal(request, request.app.state.web) is None:
            raise NotAuthenticated()
        return JSONResponse(app.openapi())

    @app.get(DOCS_URL, include_in_schema=False)
    def docs(request: Request) -> Response:
        state: WebState = request.app.state.web
        principal = optional_principal(request, state)
        if not settings.public_openapi and principal is None:
            raise NotAuthenticated()
        return render(
            request, state, "docs.html", {"nav": "docs", "openapi_url": OPENAPI_URL}, principal=principal
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return RedirectResponse(DOCS_URL, status_code=308)


def _include_routers(app: FastAPI) -> None:
    from web.routers import admin, areas, auth, health, orders

    nav: list[tuple[str, str, str]] = [("/", "Orders", "orders")]
    for module in (health, auth, orders, admin):
        summarize_operations(module.router)
        app.include_router(module.router)
    for module in areas():
        summarize_operations(module.router)
        app.include_router(module.router)
        nav.append(module.NAV)
    nav.append(("/admin", "Admin", "admin"))
    nav.append((DOCS_URL, "API", "docs"))
    app.state.nav_items = nav


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if is_api(request):
            return JSONResponse(
                {"detail": exc.reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", "not found")
        if is_api(request):
            return JSONResponse({"detail": detail}, status_code=404)
        return _error_page(request, 404, str(detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        if is_api(request):
            return JSONResponse({"detail": problems}, status_code=422)
        text = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return _error_page(request, 400, f"invalid request: {text}")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_api(request):
            return JSONResponse({"detail": "internal error; see the tower log"}, status_code=500)
        return _error_page(request, 500, "internal error; see the tower log")


def _error_page(request: Request, status: int, message: str) -> Response:
    state: WebState = request.app.state.web
    principal = None
    try:
        principal = optional_principal(request, state)
    except Exception:
        principal = None
    return render(
        request,
        state,
        "error.html",
        {"status": status, "message": message, "nav": ""},
        principal=principal,
        status_code=status,
    )
