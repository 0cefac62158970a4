"""Access rules: every route declares one, and a test fails for a route that does not.

Rules are FastAPI dependencies made here, so the rule of a route can be read
back from the app (``rule_of``) and checked for every route.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from portal.auth.users import ANONYMOUS, User

__all__ = ["Denied", "audience_refusal", "by_audience", "public", "require", "rule_of", "user_of"]

MARK = "__portal_access__"


class Denied(Exception):
    """Refused: 401 when signing in (or a valid token) would help, else 403, with a reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def user_of(connection: HTTPConnection) -> User:
    user = connection.scope.get("user")
    return user if isinstance(user, User) else ANONYMOUS


def _marked(rule: str, check: Callable[[HTTPConnection], None]) -> Any:
    # async: the check is a few attribute reads, so it runs on the event loop; a plain
    # def would cost every request a trip to the thread pool and back before its route.
    async def dependency(connection: HTTPConnection) -> None:
        check(connection)

    setattr(dependency, MARK, rule)
    dependency.__name__ = f"access_{rule.replace(':', '_').replace(' ', '_')}"
    return Depends(dependency)


def public() -> Any:
    """Anyone, signed in or not (health checks, static assets, the public audience)."""
    return _marked("public", lambda _c: None)


def require(role: str = "reader", scope: str | None = None) -> Any:
    """A signed-in user with ``role`` (admin has every role); a token also needs ``scope``."""

    def check(connection: HTTPConnection) -> None:
        user = user_of(connection)
        if not user.authenticated:
            raise Denied(401, "sign in to see this")
        if not user.has_role(role):
            raise Denied(
                403, f"this needs the {role} role; you have {', '.join(sorted(user.roles))}"
            )
        if scope is not None and not user.allows(scope):
            raise Denied(403, f"this token lacks the {scope} scope")

    return _marked(f"role:{role}" + (f" scope:{scope}" if scope else ""), check)


def by_audience() -> Any:
    """The route checks the audience's own access list itself (see Audience.access)."""
    return _marked("audience", lambda _c: None)


def audience_refusal(
    user: User, name: str, access: Sequence[str], action: str, field: str = ""
) -> Denied:
    """Why ``user`` may not ``action`` the ``name`` site (whose access list is ``access``):
    signing in would help (401), or it is for others (403). ``field`` prefixes the reason
    with the request parameter that named the site."""
    if not user.authenticated:
        return Denied(401, f"sign in to {action} the {name} site")
    prefix = f"{field}: " if field else ""
    return Denied(
        403,
        f"{prefix}the {name} site is for {', '.join(access)}; "
        f"you have {', '.join(sorted(user.roles)) or 'no role'}",
    )


def rule_of(route: Any) -> str | None:
    """The access rule a route declares, or None."""
    dependant = getattr(route, "dependant", None)
    for dependency in getattr(dependant, "dependencies", ()):
        rule = getattr(dependency.call, MARK, None)
        if rule is not None:
            return str(rule)
    return None
