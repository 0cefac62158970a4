"""API tokens: issued by an admin, shown once, stored as a hash, checked on every request.

A token reads ``qp_<id>_<secret>``. The id is public (it names the token in lists
and the audit log); the secret is 32 random bytes and only its hash is kept.

A personal token never holds more than its creator does now: at each use, its roles and
groups are narrowed to those of the creator's account as of their latest sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import CursorResult, or_, select, update
from starlette.requests import HTTPConnection

from portal.auth import audit
from portal.auth.access import Denied
from portal.auth.audit import source_of
from portal.auth.memo import Memo
from portal.auth.ratelimit import Limiter, RateLimiter
from portal.auth.users import ROLES, SCOPES, User, roles_for
from portal.db import Database
from portal.db.models import Account, ApiToken, as_utc, utcnow
from portal.exceptions import PortalError

__all__ = [
    "DEFAULT_DAYS",
    "KINDS",
    "MAX_DAYS",
    "Issued",
    "TokenAuthenticator",
    "TokenRefused",
    "all_tokens",
    "hash_secret",
    "issue",
    "parse",
    "revoke",
    "user_of",
]

PREFIX = "qp_"
KINDS = ("personal", "ci")
DEFAULT_DAYS = 90
MAX_DAYS = 365
# last_used_at and the token.use audit event are written at most this often per token:
# a CI job making a thousand calls a minute is one event, not a thousand writes.
USE_INTERVAL = timedelta(minutes=1)
# Failed token attempts allowed per client address and minute, so nobody can guess tokens.
FAILURES_PER_MINUTE = 20

_FORMAT = re.compile(r"qp_([0-9a-f]{12,32})_([A-Za-z0-9_-]{32,128})")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Compared against when the id is unknown, so an unknown id costs the same as a wrong secret.
_NO_HASH = "0" * 64


class TokenRefused(PortalError):
    """A token that cannot be issued as asked; ``problems`` names each field and what is valid."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Issued:
    """A new token's row and the whole token, which is shown once and never stored."""

    token: ApiToken
    secret: str


def hash_secret(secret: str) -> str:
    # A plain SHA-256 is enough, unlike for passwords: the secret is 32 random bytes, so
    # its hash gives a thief nothing to guess against, and a deliberately slow hash
    # (bcrypt, argon2) would only slow down every API request.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token, else None."""
    match = _FORMAT.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def issue(
    db: Database,
    creator: User,
    *,
    name: str,
    kind: str,
    scopes: Iterable[str],
    days: int = DEFAULT_DAYS,
    service: str = "",
    groups: Iterable[str] = (),
    roles: Iterable[str] = (),
    connection: HTTPConnection | None = None,
) -> Issued:
    """Create a token for ``creator`` to hand out; every problem is reported at once.

    A personal token acts as its creator: it copies their groups and roles as they
    are now, and at each use holds no more than the creator then does (see
    :func:`user_of`). A CI token acts as the service identity ``ci:<service>`` with
    the ``groups`` and ``roles`` given, and no role the creator does not hold.
    """
    problems: list[str] = []
    if creator.via == "token" or not creator.authenticated:
        problems.append("sign in to create tokens: a token cannot create another token")
    name = name.strip()
    if not name:
        problems.append("name: give the token a name that says what it is for, e.g. 'release job'")
    elif len(name) > 200:
        problems.append(f"name: at most 200 characters, not {len(name)}")
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        problems.append(
            f"scopes: {', '.join(unknown)} is not a scope (expected {', '.join(SCOPES)})"
        )
    elif not wanted:
        problems.append(f"scopes: choose at least one of {', '.join(SCOPES)}")
    if not 1 <= days <= MAX_DAYS:
        problems.append(f"days: a token expires after 1 to {MAX_DAYS} days, not {days}")
    if kind == "personal":
        owner = creator.email or creator.subject
        token_groups = list(creator.groups)
        token_roles = sorted(creator.roles)
    elif kind == "ci":
        service = service.strip()
        if not _SERVICE.fullmatch(service):
            problems.append(
                f"service: {service!r} is not a service identity name "
                "(lower-case letters, digits, '.', '_' and '-', e.g. payments-deploy)"
            )
        owner = f"ci:{service}"
        token_groups = sorted({g.strip() for g in groups if g.strip()})
        for group in token_groups:
            if not _GROUP.fullmatch(group):
                problems.append(f"groups: {group!r} is not a group name (e.g. team-payments)")
        # Every signed-in user reads (see roles_for); so does every service identity.
        token_roles = sorted({"reader", *roles})
        for role in token_roles:
            if role not in ROLES:
                problems.append(f"roles: {role!r} is not a role (expected {', '.join(ROLES)})")
            elif not creator.has_role(role):
                problems.append(f"roles: you cannot give the {role} role, which you do not have")
    else:
        problems.append(f"kind: {kind!r} is not a kind of token (expected personal or ci)")
        owner, token_groups, token_roles = "", [], []
    if problems:
        raise TokenRefused(problems)

    now = utcnow()
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = ApiToken(
        id=token_id,
        name=name,
        kind=kind,
        owner=owner,
        groups=token_groups,
        roles=token_roles,
        scopes=wanted,
        secret_hash=hash_secret(secret),
        created_by=creator.email or creator.subject,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    with db.session() as session:
        session.add(row)
    audit.record(
        db,
        "token.create",
        actor=creator,
        target=f"token:{token_id}",
        connection=connection,
        name=name,
        kind=kind,
        owner=owner,
        groups=token_groups,
        roles=token_roles,
        scopes=wanted,
        expires_at=row.expires_at.isoformat(),
    )
    return Issued(row, f"{PREFIX}{token_id}_{secret}")


def revoke(
    db: Database, token_id: str, by: User, *, connection: HTTPConnection | None = None
) -> ApiToken | None:
    """Revoke a token for good (None when there is no such token; revoking twice is a no-op)."""
    with db.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            return None
        if row.revoked_at is not None:
            return row
        row.revoked_at = utcnow()
    for authenticator in list(_AUTHENTICATORS):  # this process forgets it at once
        authenticator.memo.forget_if(lambda key: key.startswith(f"{token_id}:"))
    audit.record(
        db,
        "token.revoke",
        actor=by,
        target=f"token:{token_id}",
        connection=connection,
        name=row.name,
        owner=row.owner,
    )
    return row


_AUTHENTICATORS: weakref.WeakSet[TokenAuthenticator] = weakref.WeakSet()


def forget_checked() -> None:
    """Forget every token this process checked lately (someone's groups changed)."""
    for authenticator in list(_AUTHENTICATORS):
        authenticator.memo.forget_if(lambda _key: True)


def all_tokens(db: Database) -> list[ApiToken]:
    """Every token, revoked and expired ones too, newest first."""
    with db.session() as session:
        return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def user_of(
    token: ApiToken,
    creator: Account | None = None,
    role_groups: Mapping[str, Iterable[str]] | None = None,
) -> User:
    """Who a token acts as: its owner, with the roles, groups and scopes it was given.

    For a personal token, ``creator`` is the owner's account as of their latest sign-in
    (None when they never signed in, e.g. the development identity): then the token
    keeps only the groups the account still has and the roles those still give
    (through ``role_groups``), never more than it was given.
    """
    groups = tuple(token.groups)
    roles = frozenset(r for r in token.roles if r in ROLES)
    if token.kind == "personal" and creator is not None:
        held = roles_for(creator.groups, role_groups or {})
        current = {g.lower() for g in creator.groups}
        groups = tuple(g for g in groups if g.lower() in current)
        # As in User.has_role, admin holds every role.
        roles = frozenset(r for r in roles if r in held or "admin" in held)
    return User(
        subject=token.owner,
        name=token.owner,
        email=token.owner if "@" in token.owner else "",
        groups=groups,
        roles=roles,
        via="token",
        scopes=frozenset(s for s in token.scopes if s in SCOPES),
    )


class TokenAuthenticator:
    """``Authorization: Bearer qp_...`` → the token's user; a bad token → Denied(401).

    Any Bearer header is taken as a token: a bad one is refused rather than passed on
    to a session cookie. Failed attempts are counted per client address (as uvicorn
    reports it, i.e. after trusted proxies); past the limit every token from that
    address is refused (429) until the window passes, so a right guess cannot be told
    from a wrong one. ``role_groups`` (the settings' mapping of roles to groups) gives
    the creator's current roles, to which a personal token is narrowed at each use.
    """

    def __init__(
        self,
        db: Database,
        failures: Limiter | None = None,
        *,
        role_groups: Mapping[str, Iterable[str]] | None = None,
        memo_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.failures: Limiter = failures or RateLimiter(FAILURES_PER_MINUTE, 60.0)
        self.role_groups = role_groups or {}
        # Tokens checked lately: (user, expiry, last recorded use). See portal.auth.memo.
        self.memo: Memo[tuple[User, datetime, datetime]] = Memo(memo_seconds)
        _AUTHENTICATORS.add(self)

    @staticmethod
    def wants(connection: HTTPConnection) -> bool:
        """Whether the request carries a credential for me (cheap: no thread, no database)."""
        return "authorization" in connection.headers

    def remembered(self, connection: HTTPConnection) -> User | None:
        """The token's user when it was checked a moment ago, with nothing to record and its
        address known not to be blocked; else None (``__call__`` decides). No I/O: for the
        event loop, so that a repeat request with a token takes no trip to a thread."""
        scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        if not self.failures.known_clear(f"token:{source_of(connection)}"):
            return None
        parsed = parse(credential.strip())
        return self._remembered(*parsed) if parsed is not None else None

    def _remembered(self, token_id: str, secret: str) -> User | None:
        key = f"{token_id}:{hash_secret(secret)}"
        known = self.memo.get(key)
        if known is None:
            return None
        user, expires, used = known
        now = utcnow()
        if expires > now and used > now - USE_INTERVAL:
            return user  # checked a moment ago, and no use to record yet
        self.memo.forget(key)
        return None

    def __call__(self, connection: HTTPConnection) -> User | None:
        scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        key = f"token:{source_of(connection)}"
        wait = self.failures.blocked(key)
        if wait is not None:
            raise Denied(
                429, f"too many failed token attempts from your address; retry in {int(wait) + 1} s"
            )
        try:
            return self._check(credential.strip(), connection)
        except Denied:
            self.failures.hit(key)
            raise

    def _check(self, credential: str, connection: HTTPConnection) -> User:
        parsed = parse(credential)
        if parsed is None:
            self._fail(connection, None, None, "malformed token (expected Bearer qp_<id>_<secret>)")
        token_id, secret = parsed
        remembered = self._remembered(token_id, secret)
        if remembered is not None:
            return remembered
        key = f"{token_id}:{hash_secret(secret)}"
        now = utcnow()
        with self.db.session() as session:
            row = session.get(ApiToken, token_id)
        matches = hmac.compare_digest(hash_secret(secret), row.secret_hash if row else _NO_HASH)
        if row is None or not matches:
            self._fail(connection, token_id, None, "unknown token")
        if row.revoked_at is not None:
            self._fail(connection, token_id, row, "token revoked")
        if as_utc(row.expires_at) <= now:
            self._fail(connection, token_id, row, "token expired")
        user = user_of(row, self._creator(row), self.role_groups)
        last = row.last_used_at
        if last is None or as_utc(last) <= now - USE_INTERVAL:
            self._used(row, user, now, connection)
            last = now
        self.memo.put(key, (user, as_utc(row.expires_at), as_utc(last)))
        return user

    def _creator(self, token: ApiToken) -> Account | None:
        """The account of a personal token's owner (by subject, or by email when the owner
        is one): the one signed in most recently, should several share the email."""
        if token.kind != "personal":
            return None
        column = Account.email if "@" in token.owner else Account.subject
        latest = select(Account).where(column == token.owner).order_by(Account.last_login.desc())
        with self.db.session() as session:
            return session.scalars(latest.limit(1)).first()

    def _used(self, row: ApiToken, user: User, now: datetime, connection: HTTPConnection) -> None:
        """Record the use, unless another request (or process) did within the interval."""
        with self.db.session() as session:
            result = session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == row.id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at <= now - USE_INTERVAL,
                    ),
                )
                .values(last_used_at=now)
            )
            first = isinstance(result, CursorResult) and result.rowcount == 1
        if first:
            audit.record(
                self.db, "token.use", actor=user, target=f"token:{row.id}", connection=connection
            )

    def _fail(
        self, connection: HTTPConnection, token_id: str | None, row: ApiToken | None, reason: str
    ) -> NoReturn:
        audit.record(
            self.db,
            "token.use",
            actor=row.owner if row is not None else "anonymous",
            target=f"token:{token_id}" if token_id else "",
            outcome="failed",
            connection=connection,
            reason=reason,
        )
        raise Denied(401, reason)
