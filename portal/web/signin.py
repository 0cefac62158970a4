"""Signing in and out: /login, /auth/callback and /logout, with single sign-on configured.

A sign-in under way lives in a short-lived signed cookie (``portal_login``: state, nonce
and PKCE verifier of up to three flows, so that tabs do not spoil each other's), never in
this process's memory: any replica can finish what another began.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.auth import access, audit, tokens
from portal.auth.oidc import LoginFailed, Pending, Provider
from portal.auth.ratelimit import Limiter, limited, rate_limiter
from portal.auth.sessions import (
    COOKIE,
    SessionAuthenticator,
    Sessions,
    Signer,
    forget_cookie,
    profile_of,
    session_cookie,
)
from portal.auth.users import roles_for
from portal.db.models import Account
from portal.network import is_loopback
from portal.web.identity import current_user
from portal.web.pages import render
from portal.web.runtime import Portal

__all__ = ["install", "local_path"]

LOGIN_COOKIE = "portal_login"
LOGIN_SECONDS = 600  # a sign-in must come back from the provider within ten minutes
KEEP_PENDING = 3
MAX_NEXT = 1000  # characters of a next= path: three sign-ins must fit in one cookie
LOGINS_PER_MINUTE = 30  # per client address, for /login and /auth/callback each
# An OAuth error code (RFC 6749 5.2); anything else in an unverified answer is not shown.
ERROR_CODE = re.compile(r"[a-z_]{1,40}")


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: ``next=`` never leaves the portal.

    Refused: anything not starting with one ``/`` (``//host`` and ``/\\host`` are other
    hosts to a browser, which reads a backslash as a slash), a scheme or host, and control
    characters or whitespace (browsers drop tabs and newlines, so ``/\\t/host`` is ``//host``),
    and paths too long to keep in the sign-in cookie.
    """
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/"
    if len(target) > MAX_NEXT or any(c <= " " or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


@dataclass(frozen=True, slots=True)
class SignIn:
    """What the routes need when single sign-on is configured."""

    provider: Provider
    sessions: Sessions
    login: Signer


def install(app: FastAPI, portal: Portal) -> None:
    """The sign-in routes, and with single sign-on the session authenticator."""
    settings = portal.settings
    # A portal may be given to several apps (tests do): one session authenticator, the newest.
    portal.authenticators[:] = [
        a for a in portal.authenticators if not isinstance(a, SessionAuthenticator)
    ]
    if settings.oidc_issuer:
        provider = Provider(settings)
        sessions = Sessions(portal.db, settings, provider)
        portal.authenticators.append(SessionAuthenticator(sessions, settings.role_groups))
        app.state.signin = SignIn(provider, sessions, Signer(settings.session_secret, "login"))
    else:
        app.state.signin = None
    # In Redis when there is one: the limit holds across every replica.
    app.include_router(_router(rate_limiter(portal.shared, "signin", LOGINS_PER_MINUTE, 60.0)))


def _router(limiter: Limiter) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/login",
        include_in_schema=False,
        dependencies=[access.public(), limited(limiter, "login")],
    )
    def login(request: Request, next: str = "/") -> Response:
        """Send the browser to the provider; back at /auth/callback it is signed in."""
        target = local_path(next)
        signin = _signin(request)
        if signin is None:  # nothing to sign in to: the development identity, or nobody
            return RedirectResponse(target, status_code=303)
        try:
            url, pending = signin.provider.begin(_absolute(request, "/auth/callback"), target)
        except LoginFailed as exc:
            return _failed(request, exc.reason, target, status=502)
        response = RedirectResponse(url, status_code=303)
        _keep(response, request, signin, [*_pending(request, signin), pending])
        return response

    @router.get(
        "/auth/callback",
        include_in_schema=False,
        dependencies=[access.public(), limited(limiter, "callback")],
    )
    def callback(request: Request) -> Response:
        """The provider's answer: check it, start a fresh session, go where the user was going."""
        signin = _signin(request)
        if signin is None:
            return render(
                request,
                "not_found.html",
                404,
                message="Single sign-on is not configured here.",
                suggestions=[],
            )
        pendings = _pending(request, signin)
        state = request.query_params.get("state", "")
        pending = next((p for p in pendings if hmac.compare_digest(p.state, state)), None)
        if pending is None:
            error = request.query_params.get("error", "")
            if ERROR_CODE.fullmatch(error):  # the provider's refusal, even without our state
                reason = f"the provider refused the sign-in: {error}"
            elif pendings:
                reason = "the answer does not belong to a sign-in this browser started"
                reason += " (state mismatch)"
            else:
                reason = "no sign-in was under way in this browser (it took over ten minutes, "
                reason += "or cookies are blocked)"
            return _failed(request, reason, "/")
        rest = [p for p in pendings if p is not pending]
        try:
            tokens = signin.provider.finish(pending, dict(request.query_params))
        except LoginFailed as exc:
            response = _failed(request, exc.reason, pending.next)
            _keep(response, request, signin, rest)
            return response
        portal = _portal(request)
        profile = profile_of(tokens.claims, portal.settings.oidc_group_claim)
        profile["entity"] = _entity_for(portal, profile)
        subject = f"{tokens.claims['iss']}#{profile['sub']}"
        _remember(portal, subject, profile)
        # Rotation: whatever session this browser had ends; the new one has a new id.
        replacing = signin.sessions.id_hash(request.cookies.get(COOKIE))
        cookie = signin.sessions.create(subject, profile, tokens, replacing=replacing)
        audit.record(
            portal.db,
            "login",
            actor=profile["email"] or subject,
            connection=request,
            groups=profile["groups"],
            roles=sorted(roles_for(profile["groups"], portal.settings.role_groups)),
            entity=profile["entity"],
        )
        response = RedirectResponse(local_path(pending.next), status_code=303)
        hours = portal.settings.session_max_hours
        session_cookie(response, cookie, secure=_secure(request), max_age=hours * 3600)
        _keep(response, request, signin, rest)
        return response

    @router.get("/logout", include_in_schema=False, dependencies=[access.public()])
    def logout_page(request: Request) -> Response:
        """Asks to confirm (signing out changes state, so it takes a form post); once signed
        out, says so (the provider sends the browser back here)."""
        if _signin(request) is None:
            return RedirectResponse("/", status_code=303)
        return render(request, "signout.html")

    @router.post("/logout", include_in_schema=False, dependencies=[access.public()])
    def logout(request: Request) -> Response:
        """Ends the portal session, then the provider's when it offers an end-session page."""
        signin = _signin(request)
        user = current_user(request)
        target = "/" if signin is None else "/logout"
        if signin is not None and user.via == "session" and user.session_id:
            hint = signin.sessions.end(user.session_id)
            audit.record(_portal(request).db, "logout", actor=user, connection=request)
            back = _absolute(request, "/logout")
            target = signin.provider.end_session_url(hint, back) or target
        response = RedirectResponse(target, status_code=303)
        response.headers.append("set-cookie", forget_cookie(secure=_secure(request)))
        return response

    return router


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _signin(request: Request) -> SignIn | None:
    signin: SignIn | None = request.app.state.signin
    return signin


def _failed(request: Request, reason: str, next_path: str, status: int = 400) -> Response:
    audit.record(
        _portal(request).db,
        "login",
        actor="anonymous",
        outcome="failed",
        connection=request,
        reason=reason,
    )
    retry = "/login?" + urlencode({"next": local_path(next_path)})
    return render(request, "signin_failed.html", status, reason=reason, retry=retry)


def _absolute(request: Request, path: str) -> str:
    """A URL of ours for the provider: from PORTAL_PUBLIC_URL, else from this request."""
    base = _portal(request).settings.public_url or str(request.base_url)
    return base.rstrip("/") + path


def _secure(request: Request) -> bool:
    """Cookies are Secure except on plain http to loopback (a developer's machine)."""
    client = request.client
    loopback = client is not None and is_loopback(client.host)
    return not (request.url.scheme == "http" and loopback)


def _pending(request: Request, signin: SignIn) -> list[Pending]:
    """The sign-ins this browser has under way (none when the cookie is missing or forged)."""
    raw = request.cookies.get(LOGIN_COOKIE)
    value = signin.login.unsign(raw) if raw else None
    if value is None:
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        pendings = [Pending.from_dict(item) for item in items]
    except (binascii.Error, ValueError, KeyError, TypeError):
        return []
    now = time.time()
    return [p for p in pendings if 0 <= now - p.started <= LOGIN_SECONDS]


def _keep(response: Response, request: Request, signin: SignIn, pendings: list[Pending]) -> None:
    secure = _secure(request)
    if not pendings:
        if LOGIN_COOKIE in request.cookies:
            response.headers.append("set-cookie", forget_cookie(secure=secure, name=LOGIN_COOKIE))
        return
    data = json.dumps([p.as_dict() for p in pendings[-KEEP_PENDING:]], separators=(",", ":"))
    value = base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()
    response.set_cookie(
        LOGIN_COOKIE,
        signin.login.sign(value),
        max_age=LOGIN_SECONDS,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",  # sent on the provider's redirect back, a top-level GET
    )


def _entity_for(portal: Portal, profile: dict[str, Any]) -> str | None:
    """The catalog User entity this person is: by email first (unless the provider says it
    did not verify it), else by user name (``preferred_username`` = ``metadata.name``).

    Never by display name, which anyone may choose.
    """
    users = portal.view.catalog.of_kind("user")
    email = profile["email"].lower()
    if email and profile.get("email_verified", True):
        for entity in users:
            entry = entity.spec.get("profile")
            if isinstance(entry, dict) and str(entry.get("email", "")).lower() == email:
                return str(entity.ref)
    username = profile["username"].lower()
    if username:
        for entity in users:
            if entity.name.lower() == username:
                return str(entity.ref)
    return None


def _remember(portal: Portal, subject: str, profile: dict[str, Any]) -> None:
    """Create or update the account: who signed in, their groups, their entity."""
    now = datetime.now(UTC)
    with portal.db.session() as db:
        account = db.get(Account, subject)
        if account is None:
            account = Account(subject=subject, first_login=now)
            db.add(account)
        account.email = profile["email"]
        account.name = profile["name"]
        account.groups = list(profile["groups"])
        account.entity_ref = profile["entity"]
        account.last_login = now
    # Their groups may have changed: personal tokens are narrowed on their next use.
    tokens.forget_checked()
