"""The FastAPI application: ``create_app(settings)`` and nothing at import time."""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.auth import access
from portal.auth.csrf import CsrfProtect
from portal.auth.oidc import check_settings
from portal.auth.ratelimit import rate_limiter
from portal.auth.sessions import ClearStaleCookie
from portal.auth.tokens import FAILURES_PER_MINUTE, TokenAuthenticator
from portal.auth.users import ANONYMOUS, User
from portal.db import UNREACHABLE
from portal.network import is_loopback
from portal.secrets import remember_secrets, resolved_settings
from portal.settings import Settings
from portal.web import admin, api, live, ops, pages, scorecards, search, signin
from portal.web.identity import development_user
from portal.web.observe import Observe
from portal.web.runtime import Portal
from portal.web.sitefiles import csp, file_response, locate

__all__ = ["create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")


def create_app(
    settings: Settings, *, portal: Portal | None = None, rebuild: bool = True
) -> FastAPI:
    """The portal's ASGI app. ``portal`` is started with the app unless it already was."""
    check_settings(settings)
    remember_secrets(settings)  # masked in every log line, references or not
    runtime = portal or Portal(settings, rebuild=rebuild)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started = runtime._view is not None
        if not started:
            runtime.start()
        try:
            yield
        finally:
            if not started:
                runtime.stop()

    app = FastAPI(
        title="Quantum Portal",
        lifespan=lifespan,
        openapi_url=None,  # the REST API has its own document at /api/v1/openapi.json
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = runtime
    # A Bearer header is explicit, so tokens are tried before any session cookie.
    if not any(isinstance(a, TokenAuthenticator) for a in runtime.authenticators):
        runtime.authenticators.insert(
            0,
            TokenAuthenticator(
                runtime.db,
                failures=rate_limiter(runtime.shared, "token-failures", FAILURES_PER_MINUTE, 60.0),
                role_groups=settings.role_groups,
                memo_seconds=settings.auth_memo_seconds,
            ),
        )
    app.include_router(pages.router)
    app.include_router(search.router)
    app.include_router(scorecards.router)  # /scorecards pages and exports
    signin.install(app, runtime)  # /login, /auth/callback, /logout; the session authenticator
    app.include_router(admin.router)
    app.include_router(live.router)  # /live/status, probe now, try-it
    rest = api.create_api(runtime)
    app.mount("/api/v1", rest)
    ops.install(app, rest, runtime)  # /readyz, /metrics; 503 while the database is down

    @app.exception_handler(access.Denied)
    async def denied(request: Request, exc: access.Denied) -> Response:
        return ops.unavailable_instead_of(request, exc) or pages.denied_page(request, exc)

    @app.get("/healthz", include_in_schema=False, dependencies=[access.public()])
    async def healthz() -> PlainTextResponse:
        """The process is alive (public, says nothing else); on the event loop, so it
        answers even while every worker thread is busy."""
        return PlainTextResponse("ok")

    material = _material_assets()

    @app.get(
        "/static/material/{path:path}", include_in_schema=False, dependencies=[access.public()]
    )
    def material_asset(path: str, request: Request) -> Response:
        found = locate(material, path, url_path=request.url.path) if material else None
        if found is None or found.path is None:
            return PlainTextResponse("no such asset", status_code=404)
        return file_response(request, found.path, stat=found.stat)

    @app.get("/static/portal/{path:path}", include_in_schema=False, dependencies=[access.public()])
    def portal_asset(path: str, request: Request) -> Response:
        found = locate(STATIC, path, url_path=request.url.path)
        if found is None or found.path is None:
            return PlainTextResponse("no such asset", status_code=404)
        return file_response(request, found.path, stat=found.stat)

    @app.get("/favicon.ico", include_in_schema=False, dependencies=[access.public()])
    def favicon() -> Response:
        return RedirectResponse("/static/material/images/favicon.png", status_code=308)

    # Innermost: a page view already in memory is answered before routing.
    docs_route = next(r for r in pages.router.routes if getattr(r, "name", "") == "docs_file")
    app.add_middleware(pages.SiteFilesFromMemory, portal=runtime, route=docs_route)
    app.add_middleware(CsrfProtect, page=pages.denied_page)
    app.add_middleware(ClearStaleCookie)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes * 2 + 64 * 1024)
    # A logout may redirect a form post to the provider's end-session page.
    issuer = urlsplit(settings.oidc_issuer)
    targets = (f"{issuer.scheme}://{issuer.netloc}",) if issuer.netloc else ()
    app.add_middleware(SecurityHeaders, form_targets=targets)
    app.add_middleware(Authenticate, portal=runtime)
    # Outermost: it sees every answer, the ones the middleware above gives included.
    app.add_middleware(Observe, metrics=runtime.metrics)
    return app


def app_from_environment() -> FastAPI:
    """The app for ``portal serve --reload`` (uvicorn's factory): PORTAL_* variables."""
    return create_app(resolved_settings(Settings()))


@lru_cache(maxsize=1)
def _material_assets() -> Path | None:
    """mkdocs-material's own assets (CSS, icons): the portal's pages share the sites' look."""
    spec = importlib.util.find_spec("material")
    if spec is None or spec.origin is None:  # pragma: no cover - a dependency
        return None
    folder = Path(spec.origin).parent / "templates" / "assets"
    return folder if folder.is_dir() else None


@lru_cache(maxsize=1)
def material_stylesheets() -> tuple[str, ...]:
    """mkdocs-material's stylesheets (installed with the portal: looked for once)."""
    folder = _material_assets()
    if folder is None:
        return ()
    names = sorted(glob.glob(os.path.join(folder, "stylesheets", "*.min.css")))
    # main first, then the palette
    names.sort(key=lambda n: (not os.path.basename(n).startswith("main."), n))
    return tuple(f"/static/material/stylesheets/{os.path.basename(n)}" for n in names)


class Authenticate:
    """Puts the caller on every request as ``scope["user"]``.

    In order: an API token (``Authorization: Bearer``), a session cookie, then,
    only while no single sign-on is configured, the development identity, which
    answers nothing but loopback. Anyone else is anonymous, and each route's
    access rule decides.
    """

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal
        self.development = development_user(portal.settings.dev_user)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["path"] in ops.UNAUTHENTICATED:  # they judge the request themselves
            scope["user"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        user = None
        # Only the authenticators this request carries a credential for (an
        # authenticator may say, with a cheap ``wants``); all of them in one trip to
        # a worker thread, since they read the database: never on the event loop.
        chain = [
            a
            for a in self.portal.authenticators
            if (wants := getattr(a, "wants", None)) is None or wants(connection)
        ]
        # Unless the first remembers this credential (checked moments ago): it says so
        # without I/O, with a cheap ``remembered``, and no thread is needed.
        remembered = getattr(chain[0], "remembered", None) if chain else None
        if remembered is not None:
            user = remembered(connection)
        if chain and user is None:
            try:
                user = await run_in_threadpool(_first_user, chain, connection)
            except access.Denied as exc:
                response = JSONResponse({"detail": exc.reason, "problems": []}, exc.status)
                if exc.status == 401:
                    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                await response(scope, receive, send)
                return
            except UNREACHABLE as exc:
                # Judged as anonymous: public routes still answer, the others 503 (ops).
                log.warning("database down, credential unchecked: %s", type(exc).__name__)
                scope[ops.AUTH_UNAVAILABLE] = True
        unchecked = bool(scope.get(ops.AUTH_UNAVAILABLE))
        if user is None and not unchecked and not self.portal.settings.oidc_issuer:
            client = scope.get("client")
            host = urlsplit("//" + connection.headers.get("host", "")).hostname
            # Loopback peer, and a loopback Host: a web page that rebinds its own DNS
            # name to 127.0.0.1 cannot borrow the development identity.
            forwarded = any(name in connection.headers for name in ("forwarded", "x-forwarded-for"))
            # A missing peer (a unix socket) or a proxy in front is not loopback.
            if client is None or forwarded or not (is_loopback(client[0]) and is_loopback(host)):
                refusal = PlainTextResponse(
                    "This portal runs with a development identity, which only answers on "
                    "loopback (http://127.0.0.1 or http://localhost). Configure single "
                    "sign-on to serve other machines.",
                    status_code=403,
                )
                await refusal(scope, receive, send)
                return
            user = self.development
        scope["user"] = user or ANONYMOUS
        await self.app(scope, receive, send)


def _first_user(
    chain: list[Callable[[HTTPConnection], User | None]], connection: HTTPConnection
) -> User | None:
    for authenticate in chain:
        user = authenticate(connection)
        if user is not None:
            return user
    return None


class SecurityHeaders:
    """Headers every response carries: a strict CSP (no inline script), nosniff, referrer
    policy, framing only by ourselves, and HSTS when the request came over TLS.

    A response that sets its own Content-Security-Policy (the docs sites' pages,
    which allow their inline scripts by hash) keeps it.
    """

    def __init__(self, app: ASGIApp, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"SAMEORIGIN"),
        ]
        self.policy = (b"content-security-policy", csp(form_targets=form_targets).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *self.headers]
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append(self.policy)
                if tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses request bodies larger than ``limit`` bytes with 413, before anything parses them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI turns other errors met while reading a body into 400.
                    raise HTTPException(
                        413, f"the request body is larger than {self.limit:,} bytes"
                    )
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except HTTPException as exc:  # raised outside FastAPI's handlers
            if exc.status_code != 413 or started:
                raise
            await _too_large(self.limit)(scope, receive, send)


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {
            "detail": f"the request body is larger than {limit:,} bytes",
            "problems": [
                {
                    "file": "request",
                    "line": None,
                    "column": None,
                    "severity": "error",
                    "message": "the request body is too large (setting PORTAL_MAX_UPLOAD_BYTES)",
                }
            ],
        },
        status_code=413,
    )
