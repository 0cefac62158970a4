"""Operating the portal: /readyz, /metrics, and a clear 503 while the database is down.

What works without the database keeps working: the built sites, the pages drawn from
the catalog held in memory, /healthz. What needs it answers 503, a page for browsers
and JSON for the API, and works again as soon as the database answers (the engine's
pre-ping replaces connections that died with it; nothing here needs a restart).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from portal.auth import access
from portal.db import UNREACHABLE
from portal.web.identity import current_user
from portal.web.metrics import PortalState, scrape_refusal
from portal.web.pages import render, wants_json
from portal.web.runtime import Portal

__all__ = [
    "AUTH_UNAVAILABLE",
    "UNAUTHENTICATED",
    "Readiness",
    "install",
    "unavailable",
    "unavailable_instead_of",
]

log = logging.getLogger(__name__)

# Routes that judge the request themselves and must not read the database to learn who
# is asking: probes keep answering whatever cookie rides along, and the metrics token is
# no API token (the Authenticate middleware leaves these to them).
UNAUTHENTICATED = frozenset({"/healthz", "/readyz", "/metrics"})
# Set on a request whose credential could not be checked because the database is down.
AUTH_UNAVAILABLE = "portal.auth_unavailable"
RETRY_AFTER = "30"

DATABASE_DOWN = (
    "The portal's database cannot be reached right now, and this page needs it. "
    "The catalog pages held in memory and the documentation sites do not."
)
SIGN_IN_DOWN = (
    "Your sign-in cannot be checked while the portal's database cannot be reached. "
    "Public documentation is still served."
)
_API_REASONS = {
    DATABASE_DOWN: "the portal's database cannot be reached; try again shortly",
    SIGN_IN_DOWN: "the credential cannot be checked while the portal's database cannot be "
    "reached; try again shortly",
}

router = APIRouter()


class Readiness:
    """The checks behind /readyz, run one at a time: callers arriving while a check runs
    share its answer, so a public endpoint cannot multiply the load on the database."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self._cond = threading.Condition()
        self._running = False
        self._round = 0
        self._answer: dict[str, bool] = {}

    def check(self) -> dict[str, bool]:
        """Check name -> whether it passes (database, sites, search)."""
        with self._cond:
            if self._running:
                started = self._round
                while self._round == started:
                    self._cond.wait()
                return self._answer
            self._running = True
        answer = {}
        try:
            answer = {
                "database": self._database(),
                "sites": self._sites(),
                "search": self.portal.search_index is not None,
            }
        finally:
            with self._cond:
                self._answer = answer
                self._running = False
                self._round += 1
                self._cond.notify_all()
        return answer

    def _database(self) -> bool:
        try:
            self.portal.db.ping()
        except Exception as exc:  # whatever it is, the portal is not ready
            log.warning("readiness: the database does not answer (%s)", _first_line(exc))
            return False
        return True

    def _sites(self) -> bool:
        """Every audience's site is built (its home page is there)."""
        missing = [
            name
            for name in self.portal.audiences
            if not (self.portal.site_dir(name) / "index.html").is_file()
        ]
        if missing:
            log.warning("readiness: sites not built: %s", ", ".join(missing))
        return not missing


@router.get("/readyz", include_in_schema=False, dependencies=[access.public()])
async def readyz(request: Request) -> PlainTextResponse:
    """Ready for traffic: database reachable, sites present, search index open. Says which
    check fails, never why (the log does)."""
    readiness: Readiness = request.app.state.readiness
    checks = await run_in_threadpool(readiness.check)
    ready = bool(checks) and all(checks.values())
    lines = [f"{name}: {'ok' if ok else 'failing'}" for name, ok in checks.items()]
    return PlainTextResponse(
        "\n".join(["ready" if ready else "not ready", *lines]) + "\n",
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/metrics", include_in_schema=False, dependencies=[access.public()])
def metrics(request: Request) -> Response:
    """Prometheus' scrape, for the metrics token or the allowed networks only."""
    portal: Portal = request.app.state.portal
    refusal = scrape_refusal(portal.settings, request)
    if refusal is not None:
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if refusal.status == 401 else {}
        return PlainTextResponse(refusal.reason, status_code=refusal.status, headers=headers)
    body, content_type = portal.metrics.exposition(request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def install(app: FastAPI, api: FastAPI, portal: Portal) -> None:
    """/readyz and /metrics on ``app``; the 503 answer on it and on the mounted ``api``."""
    app.state.readiness = Readiness(portal)
    portal.metrics.register(PortalState(portal))
    app.include_router(router)
    for target in (app, api):
        for error in UNREACHABLE:
            target.add_exception_handler(error, _database_down)


async def _database_down(request: Request, exc: Exception) -> Response:
    log.warning("the database cannot be reached (%s): answered 503", _first_line(exc))
    return unavailable(request, DATABASE_DOWN)


def unavailable_instead_of(request: Request, exc: access.Denied) -> Response | None:
    """The 503 to answer instead of a refusal that only came about because the caller's
    credential could not be checked (the database is down): not a 401 or a sign-in."""
    if exc.status == 401 and request.scope.get(AUTH_UNAVAILABLE):
        return unavailable(request, SIGN_IN_DOWN)
    return None


def unavailable(request: Request, reason: str) -> Response:
    """503: JSON for the API and clients that ask for it, a page for browsers."""
    portal: Portal = request.app.state.portal
    portal.metrics.database_unavailable.inc()
    headers = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"}
    if wants_json(request):
        body: dict[str, Any] = {"detail": _API_REASONS.get(reason, reason), "problems": []}
        return JSONResponse(body, status_code=503, headers=headers)
    user = current_user(request)
    sites = [a for a in portal.audiences.values() if user.in_any(a.access)]
    response = render(
        request,
        "unavailable.html",
        503,
        reason=reason,
        sites=sites,
        request_id=request.scope.get("state", {}).get("request_id", ""),
    )
    response.headers.update(headers)
    return response


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
