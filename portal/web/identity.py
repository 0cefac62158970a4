"""The development identity: every role, loopback only, until single sign-on is configured."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from portal.auth.access import user_of
from portal.auth.users import ROLES, User

__all__ = ["current_user", "development_user"]


def development_user(email: str) -> User:
    return User(
        subject=f"development:{email}",
        name=email.split("@", 1)[0],
        email=email,
        roles=frozenset(ROLES),
        via="development",
    )


def current_user(connection: HTTPConnection) -> User:
    """The user the authentication middleware put on the request (anonymous when none)."""
    return user_of(connection)
