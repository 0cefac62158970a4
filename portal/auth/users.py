"""Users as the portal sees them: who they are, their groups, and the roles those give."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ANONYMOUS", "ROLES", "SCOPES", "User", "roles_for"]

# Ordered by power; admin may do everything the others may.
ROLES = ("reader", "contributor", "reviewer", "admin")
# What an API token may be allowed to do.
SCOPES = ("catalog:read", "catalog:write", "scorecards:write")

Via = Literal["session", "token", "development", "anonymous"]


@dataclass(frozen=True, slots=True)
class User:
    """One caller. ``roles`` come from groups (see roles_for); a token narrows to ``scopes``."""

    subject: str
    name: str
    email: str = ""
    groups: tuple[str, ...] = ()
    roles: frozenset[str] = field(default_factory=frozenset)
    via: Via = "anonymous"
    # A token's scopes; None for a browser session, which is limited by roles only.
    scopes: frozenset[str] | None = None
    # The catalog User entity this person is, when one matched at sign-in.
    entity: str | None = None
    session_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.via != "anonymous"

    @property
    def label(self) -> str:
        """Who this is, in a log line or the audit log: email, else subject, else name."""
        return self.email or self.subject or self.name

    @property
    def development(self) -> bool:
        return self.via == "development"

    def has_role(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles

    def allows(self, scope: str) -> bool:
        """Whether a token's scopes allow ``scope`` (sessions are not limited by scopes)."""
        return self.scopes is None or scope in self.scopes

    def in_any(self, access: Iterable[str]) -> bool:
        """Whether an access list (roles, ``group:<name>`` entries or ``public``) admits me."""
        for entry in access:
            if entry == "public":
                return True
            if entry.startswith("group:") and entry[6:].lower() in {g.lower() for g in self.groups}:
                return self.authenticated
            if self.authenticated and self.has_role(entry):
                return True
        return False


ANONYMOUS = User(subject="", name="anonymous")


def roles_for(groups: Iterable[str], role_groups: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """Every signed-in user reads; ``role_groups`` maps a role to the groups that hold it."""
    mine = {g.lower() for g in groups}
    roles = {"reader"}
    for role, members in role_groups.items():
        if role in ROLES and mine & {m.lower() for m in members}:
            roles.add(role)
    return frozenset(roles)
