"""Who is asking. Until single sign-on is configured: a development identity, loopback only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

__all__ = ["User", "current_user", "is_loopback"]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    email: str
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: tuple[str, ...] = ()
    development: bool = False


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or a name) is this machine's loopback interface."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def development_user(email: str) -> User:
    return User(
        name=email.split("@", 1)[0],
        email=email,
        roles=frozenset({"reader", "contributor", "reviewer", "admin"}),
        development=True,
    )


def current_user(connection: HTTPConnection) -> User:
    """The user the authentication middleware put on the request."""
    user = connection.scope.get("user")
    if not isinstance(user, User):  # the middleware always sets one; guard the type
        raise RuntimeError("no user on the request: is the identity middleware installed?")
    return user
