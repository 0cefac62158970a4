"""Every request observed once, outermost: its id, its log line, its metrics.

Pure ASGI, so the cost is a few dictionary reads and one clock pair per request; the
log line is only formatted when its level is enabled.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.auth.users import User
from portal.logs import REQUEST_ID
from portal.web.metrics import UNMATCHED, Metrics

__all__ = ["ACCESS_LOG", "Observe", "route_template"]

# The access log: one event per request (uvicorn's own access log is turned off).
ACCESS_LOG = logging.getLogger("portal.access")
HEADER = b"x-request-id"
# An id a proxy or client sends is kept when it looks like one; anything else (too
# long, spaces, control characters) is replaced, so it can go in headers and logs as is.
_GIVEN_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}")
# Probes and scrapes every few seconds: logged at DEBUG unless they fail.
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})
# New ids: this process's random prefix and a counter, unique across replicas and
# restarts without asking the system for randomness on every request.
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


class Observe:
    """Gives each request an id (the caller's ``X-Request-ID``, or a new one), echoes it in
    the response, logs one event and counts the request by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, log: logging.Logger = ACCESS_LOG) -> None:
        self.app = app
        self.metrics = metrics
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (HEADER, request_id.encode("ascii"))
        status = 500  # unless a response starts: an exception escaped, the server says 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        root_path = scope.get("root_path", "")
        context = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope, root_path)
            self.metrics.request(scope["method"], route, status, seconds)
            self._log(scope, request_id, route, status, seconds)
            REQUEST_ID.reset(context)

    def _log(self, scope: Scope, request_id: str, route: str, status: int, seconds: float) -> None:
        if status >= 500:  # an error's own traceback is logged where it happened
            level = logging.WARNING
        elif scope["path"] in _QUIET and status < 400:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not self.log.isEnabledFor(level):
            return
        user = scope.get("user")
        who = user.label if isinstance(user, User) and user.authenticated else "anonymous"
        query = scope.get("query_string", b"")
        path = scope["path"] + ("?" + query.decode("latin-1") if query else "")
        client = scope.get("client")
        duration_ms = round(seconds * 1000, 2)
        # The formatter masks credentials in the message and in every field. The record
        # is made directly: Logger.log would also walk the stack for the caller's file
        # and line, which is always this one.
        record = self.log.makeRecord(
            self.log.name,
            level,
            __file__,
            0,
            "%s %s %d %.1f ms · %s · %s",
            (scope["method"], path, status, duration_ms, who, request_id),
            None,
            extra={
                "event": "request",
                "request_id": request_id,
                "method": scope["method"],
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "user": who,
                "client": client[0] if client else None,
            },
        )
        self.log.handle(record)


def route_template(scope: Scope, root_path: str = "") -> str:
    """The path template of the route that answered (``/catalog/{kind}/{namespace}/{name}``,
    with the prefix of any mount it is under), or :data:`UNMATCHED`: never the raw path,
    whose every value would be a series of its own."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str) or isinstance(route, Mount):
        return UNMATCHED
    mounted: str = scope.get("root_path", "")[len(root_path) :]
    return mounted + path


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            if _GIVEN_ID.fullmatch(value):
                return bytes(value).decode("ascii")
            break
    return f"{_PREFIX}{next(_COUNTER):08x}"
