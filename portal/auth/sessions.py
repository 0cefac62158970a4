"""Browser sessions: a signed cookie names a row in the database, and the row alone decides.

The cookie carries a random id and its HMAC; the database keeps only the id's SHA-256,
and the provider's refresh and ID tokens only encrypted with a key derived from the
session secret, so a copy of the table opens no session and yields no provider token.
Idle and absolute timeouts are enforced here, on the server, whatever the browser does
with the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.auth import audit, csrf
from portal.auth.memo import Memo
from portal.auth.oidc import LoginFailed, Provider, Tokens
from portal.auth.users import User, roles_for
from portal.db import Database
from portal.db.models import WebSession, as_utc
from portal.settings import Settings

__all__ = [
    "COOKIE",
    "ClearStaleCookie",
    "Sealer",
    "SessionAuthenticator",
    "Sessions",
    "Signer",
    "profile_of",
]

log = logging.getLogger(__name__)

COOKIE = "portal_session"
# last_seen_at is written at most this often: the idle timeout needs no finer clock.
TOUCH_EVERY = timedelta(minutes=1)
# Set on the request when it brought a session cookie that opens nothing.
STALE = "portal.stale_session"


class Signer:
    """HMAC-SHA256 signatures for cookie values, with a key of its own for each purpose."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hmac.new(
            secret.encode(), b"quantum-portal cookie: " + purpose.encode(), hashlib.sha256
        ).digest()

    def sign(self, value: str) -> str:
        """``value.signature``; ``value`` must not contain a dot."""
        return f"{value}.{self._mac(value)}"

    def unsign(self, signed: str) -> str | None:
        """The value, or None when the signature does not match (a tampered or foreign cookie)."""
        value, dot, mac = signed.rpartition(".")
        if not dot or not hmac.compare_digest(mac.encode(), self._mac(value).encode()):
            return None
        return value

    def _mac(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Sealer:
    """AES-256-GCM for provider tokens at rest, with a key derived (HKDF) from the secret.

    Each value is bound to its session row and column, so a sealed token moved to
    another row or column does not open.
    """

    VERSION = "v1."

    def __init__(self, secret: str, purpose: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"quantum-portal at rest: " + purpose.encode(),
        ).derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, value: str | None, context: str) -> str | None:
        if value is None:
            return None
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, value.encode(), context.encode())
        return self.VERSION + base64.urlsafe_b64encode(sealed).decode()

    def open(self, sealed: str | None, context: str) -> str | None:
        """The value, or None when there is none or it does not open (another key, or
        a value written before tokens were sealed)."""
        if not sealed or not sealed.startswith(self.VERSION):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(self.VERSION) :])
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            return None


def profile_of(claims: dict[str, Any], group_claim: str) -> dict[str, Any]:
    """Who the provider says the user is: name, email and groups from validated ID token claims.

    ``email_verified`` is False only when the provider says so (some say "false", a string);
    a provider that does not say is taken at its word for the email.
    """
    raw = claims.get(group_claim, [])
    groups = [raw] if isinstance(raw, str) else [g for g in raw or [] if isinstance(g, str)]
    email = str(claims.get("email") or "")
    name = claims.get("name") or claims.get("preferred_username") or email or claims["sub"]
    return {
        "sub": str(claims["sub"]),
        "name": str(name),
        "email": email,
        "email_verified": str(claims.get("email_verified", True)).lower() != "false",
        "username": str(claims.get("preferred_username") or ""),
        "groups": groups,
    }


@dataclass(frozen=True, slots=True)
class Live:
    """A session that still holds, as one request sees it."""

    id_hash: str
    subject: str
    profile: dict[str, Any]
    csrf_token: str


class Sessions:
    """Creating, finding (with timeouts and refresh) and ending browser sessions."""

    def __init__(self, db: Database, settings: Settings, provider: Provider | None) -> None:
        self.db = db
        self.provider = provider
        self.signer = Signer(settings.session_secret, "session")
        self.sealer = Sealer(settings.session_secret, "web_sessions")
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.lifetime = timedelta(hours=settings.session_max_hours)
        # What a recent request checked: (live, created, last seen, ID token expiry).
        self.memo: Memo[tuple[Live, datetime, datetime, datetime | None]] = Memo(
            settings.auth_memo_seconds
        )

    def create(
        self, subject: str, profile: dict[str, Any], tokens: Tokens, *, replacing: str | None
    ) -> str:
        """A new session for a fresh sign-in; the cookie value to set. ``replacing`` (the id
        hash of the browser's previous session) is deleted in the same transaction."""
        session_id = secrets.token_urlsafe(32)
        id_hash = _hash(session_id)
        now = datetime.now(UTC)
        with self.db.session() as db:
            if replacing is not None and (old := db.get(WebSession, replacing)) is not None:
                db.delete(old)
            db.add(
                WebSession(
                    id_hash=id_hash,
                    subject=subject,
                    user=profile,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                    id_token_expires_at=tokens.expires_at,
                    refresh_token=self._seal(tokens.refresh_token, id_hash, "refresh_token"),
                    id_token=self._seal(tokens.id_token, id_hash, "id_token"),
                )
            )
        return self.signer.sign(session_id)

    def id_hash(self, cookie: str | None) -> str | None:
        """The stored key of the session a cookie names (None for a tampered cookie)."""
        session_id = self.signer.unsign(cookie) if cookie else None
        return _hash(session_id) if session_id else None

    def find(self, cookie: str, connection: HTTPConnection | None = None) -> Live | None:
        """The session ``cookie`` opens now, or None. An expired session is deleted; one whose
        ID token expired is refreshed from its refresh token, or ended."""
        id_hash = self.id_hash(cookie)
        if id_hash is None:
            return None
        remembered = self._remembered(id_hash)
        if remembered is not None:
            return remembered
        now = datetime.now(UTC)
        ended = refresh_token = None
        with self.db.session() as db:
            row = db.get(WebSession, id_hash)
            if row is None:
                return None
            live = Live(id_hash, row.subject, dict(row.user), row.csrf_token)
            if now - as_utc(row.created_at) >= self.lifetime:
                ended = f"the session is older than {self.lifetime.total_seconds() / 3600:g} hours"
            elif now - as_utc(row.last_seen_at) >= self.idle:
                ended = f"the session was idle for {self.idle.total_seconds() / 60:g} minutes"
            if ended:
                db.delete(row)
            else:
                expires = row.id_token_expires_at
                if expires is not None and as_utc(expires) <= now:
                    # Refreshed below, after this transaction: no lock held over the network.
                    refresh_token = self._open(row.refresh_token, id_hash, "refresh_token")
                    if refresh_token is None:
                        ended = "the sign-in expired and the provider gave no refresh token"
                        if row.refresh_token is not None:  # sealed with another secret
                            ended = "the sign-in expired and its refresh token cannot be read"
                        db.delete(row)
                elif now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
                    row.last_seen_at = now
            if not ended and refresh_token is None:
                expires = row.id_token_expires_at
                self.memo.put(
                    id_hash,
                    (
                        live,
                        as_utc(row.created_at),
                        as_utc(row.last_seen_at),
                        as_utc(expires) if expires is not None else None,
                    ),
                )
        if ended:
            self._ended(live, ended, connection)
            return None
        if refresh_token is not None:
            return self._refresh(live, refresh_token, connection)
        return live

    def remembered(self, cookie: str) -> Live | None:
        """The session ``cookie`` opens when a recent request checked it and nothing is due
        (see :meth:`find`); else None. No I/O: for the event loop."""
        id_hash = self.id_hash(cookie)
        return self._remembered(id_hash) if id_hash is not None else None

    def _remembered(self, id_hash: str) -> Live | None:
        known = self.memo.get(id_hash)
        if known is None:
            return None
        live, created, seen, expires = known
        now = datetime.now(UTC)
        # Without the database: still within both timeouts, the ID token still valid,
        # and no touch of last_seen_at due. Otherwise, read the row.
        if (
            now - created < self.lifetime
            and now - seen < min(self.idle, TOUCH_EVERY)
            and (expires is None or expires > now)
        ):
            return live
        self.memo.forget(id_hash)
        return None

    def end(self, id_hash: str) -> str | None:
        """Delete a session (sign-out); the ID token it held, for the provider's logout hint."""
        self.memo.forget(id_hash)
        with self.db.session() as db:
            row = db.get(WebSession, id_hash)
            if row is None:
                return None
            db.delete(row)
            return self._open(row.id_token, id_hash, "id_token")

    def _refresh(
        self, live: Live, refresh_token: str, connection: HTTPConnection | None
    ) -> Live | None:
        self.memo.forget(live.id_hash)
        try:
            if self.provider is None:
                raise LoginFailed("single sign-on is not configured")
            tokens = self.provider.refresh(refresh_token, live.profile.get("sub", ""))
        except LoginFailed as exc:
            with self.db.session() as db:
                row = db.get(WebSession, live.id_hash)
                expires = row.id_token_expires_at if row is not None else None
                if row is not None and expires is not None and as_utc(expires) > datetime.now(UTC):
                    return live  # another request refreshed it meanwhile
                if row is not None:
                    db.delete(row)
            self._ended(live, f"the refresh failed: {exc.reason}", connection, outcome="failed")
            return None
        profile = live.profile
        if tokens.claims:
            group_claim = self.provider.settings.oidc_group_claim
            profile = {**profile, **profile_of(tokens.claims, group_claim)}
        with self.db.session() as db:
            row = db.get(WebSession, live.id_hash)
            if row is None:  # signed out meanwhile
                return None
            row.id_token_expires_at = tokens.expires_at
            row.refresh_token = self._seal(tokens.refresh_token, live.id_hash, "refresh_token")
            if tokens.id_token is not None:
                row.id_token = self._seal(tokens.id_token, live.id_hash, "id_token")
            row.user = profile
            row.last_seen_at = datetime.now(UTC)
        return Live(live.id_hash, live.subject, profile, live.csrf_token)

    def _seal(self, token: str | None, id_hash: str, column: str) -> str | None:
        return self.sealer.seal(token, f"{id_hash}:{column}")

    def _open(self, sealed: str | None, id_hash: str, column: str) -> str | None:
        return self.sealer.open(sealed, f"{id_hash}:{column}")

    def _ended(
        self, live: Live, reason: str, connection: HTTPConnection | None, outcome: str = "ok"
    ) -> None:
        who = live.profile.get("email") or live.subject
        audit.record(
            self.db, "session.end", actor=who, outcome=outcome, connection=connection, reason=reason
        )


class SessionAuthenticator:
    """The session cookie's user, for ``Portal.authenticators``.

    A request that presents ``Authorization`` is judged by it alone, never by a cookie
    riding along. A cookie that opens nothing marks the request, so that the response
    tells the browser to drop it (see :class:`ClearStaleCookie`).
    """

    def __init__(self, sessions: Sessions, role_groups: dict[str, list[str]]) -> None:
        self.sessions = sessions
        self.role_groups = role_groups

    @staticmethod
    def wants(connection: HTTPConnection) -> bool:
        """Whether the request carries a session cookie (and no Authorization of its own)."""
        return COOKIE in connection.cookies and "authorization" not in connection.headers

    def __call__(self, connection: HTTPConnection) -> User | None:
        cookie = connection.cookies.get(COOKIE)
        if cookie is None or "authorization" in connection.headers:
            return None
        live = self.sessions.find(cookie, connection)
        if live is None:
            connection.scope[STALE] = True
            return None
        return self._user(live, connection)

    def remembered(self, connection: HTTPConnection) -> User | None:
        """The cookie's user when a recent request checked the session; else None (then
        ``__call__`` decides). No I/O: for the event loop."""
        cookie = connection.cookies.get(COOKIE)
        if cookie is None or "authorization" in connection.headers:
            return None
        live = self.sessions.remembered(cookie)
        return self._user(live, connection) if live is not None else None

    def _user(self, live: Live, connection: HTTPConnection) -> User:
        csrf.expect(connection, live.csrf_token)
        profile = live.profile
        groups = tuple(profile.get("groups", ()))
        return User(
            subject=live.subject,
            name=profile.get("name", ""),
            email=profile.get("email", ""),
            groups=groups,
            roles=roles_for(groups, self.role_groups),
            via="session",
            entity=profile.get("entity"),
            session_id=live.id_hash,
        )


class ClearStaleCookie:
    """Tells the browser to forget a session cookie that opens nothing (expired, ended, forged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get(STALE):
                headers = MutableHeaders(scope=message)
                prefix = f"{COOKIE}="
                if not any(v.startswith(prefix) for v in headers.getlist("set-cookie")):
                    headers.append("set-cookie", forget_cookie(secure=scope["scheme"] == "https"))
            await send(message)

        await self.app(scope, receive, sending)


def session_cookie(response: Response, value: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        COOKIE, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )


def forget_cookie(*, secure: bool, name: str = COOKIE, path: str = "/") -> str:
    """A Set-Cookie value that deletes a cookie of ours."""
    response = Response()
    response.delete_cookie(name, path=path, secure=secure, httponly=True, samesite="lax")
    return response.headers["set-cookie"]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
