"""Cross-site request forgery: a change made with an ambient credential must prove its origin.

The rule, for every unsafe method (POST, PUT, PATCH, DELETE):

- A request acting as a session cookie's user carries that session's token, in the
  form field ``csrf`` or the header ``X-CSRF-Token``; else 403 with the reason.
- A request with ``Authorization: Bearer`` is exempt: a browser never adds that header
  by itself, so no other site can make one (and sessions ignore such requests).
- The development identity is ambient too (any page open in the developer's browser can
  post to loopback), but it has no session to hold a token. There the browser's own
  word is checked: an ``Origin`` other than ours, or ``Sec-Fetch-Site: cross-site`` or
  ``same-site``, is refused. Browsers always send these on cross-origin posts; tools
  that send neither (curl, scripts) carry no one's ambient identity but their own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.auth.access import Denied
from portal.auth.users import User

__all__ = ["FIELD", "HEADER", "CsrfProtect", "expect", "token_of"]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FIELD = "csrf"
HEADER = "X-CSRF-Token"
_EXPECTED = "portal.csrf"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def expect(connection: HTTPConnection, token: str) -> None:
    """Unsafe requests of this connection must carry ``token`` (called by the session's
    authenticator)."""
    connection.scope[_EXPECTED] = token


def token_of(connection: HTTPConnection) -> str:
    """The token forms of this page must carry ('' when none is needed)."""
    return str(connection.scope.get(_EXPECTED, ""))


Page = Callable[[Request, Denied], Response]


class CsrfProtect:
    """Refuses unsafe requests that break the rule above; ``page`` renders the refusal for
    browsers (API clients get JSON)."""

    def __init__(self, app: ASGIApp, page: Page | None = None) -> None:
        self.app = app
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        expected = scope.get(_EXPECTED)
        reason = None
        if expected:
            sent = headers.get(HEADER)
            if sent is None and headers.get("content-type", "").startswith(_FORMS):
                body = await _body(receive)
                receive = _replay(body, receive)
                sent = await _field(scope, body)
            if not sent:
                reason = (
                    f"this request lacks its CSRF token (form field '{FIELD}' or header "
                    f"{HEADER}); reload the page and try again"
                )
            elif not hmac.compare_digest(sent.encode(), str(expected).encode()):
                reason = "the CSRF token does not match your session; reload the page and try again"
        elif isinstance(user := scope.get("user"), User) and user.development:
            reason = _cross_site(scope, headers)
        if reason is None:
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, headers, reason)(scope, receive, send)

    def _refuse(self, scope: Scope, headers: Headers, reason: str) -> Response:
        denied = Denied(403, reason)
        if self.page is not None and "text/html" in headers.get("accept", ""):
            return self.page(Request(scope), denied)
        return JSONResponse({"detail": reason, "problems": []}, status_code=403)


def _cross_site(scope: Scope, headers: Headers) -> str | None:
    origin = headers.get("origin")
    ours = f"{scope['scheme']}://{headers.get('host', '')}"
    if origin is not None and origin != ours:
        return f"a page of {origin[:100]} may not change this portal (a cross-site request)"
    site = headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        return f"another site may not change this portal (Sec-Fetch-Site: {site})"
    return None


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body read already, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _field(scope: Scope, body: bytes) -> str | None:
    request = Request(scope, _replay(body, _nothing))
    try:
        form = await request.form()
    except Exception:  # a malformed form: the app answers it; here it simply has no token
        return None
    try:
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
