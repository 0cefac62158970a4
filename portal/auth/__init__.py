"""Who may do what: users and roles, sessions, API tokens, access rules and the audit log."""

from portal.auth.users import ANONYMOUS, ROLES, SCOPES, User, roles_for

__all__ = ["ANONYMOUS", "ROLES", "SCOPES", "User", "roles_for"]
